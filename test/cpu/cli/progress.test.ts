import { describe, expect, it } from 'vitest';
import { progressReporter } from '../../../src/cli/progress.js';

describe('CLI progress', () => {
  it('TTY: bar, percentage, elapsed and an ETA from the rate so far; a new stage ends the previous one', () => {
    let t = 0;
    const out: string[] = [];
    const p = progressReporter({ write: (s) => out.push(s), isTTY: true }, () => t);
    p.update('weights', 0);
    t = 2000;
    p.update('weights', 0.25); // 2 s for 25 % → 6 s to go
    expect(out.at(-1)).toBe(`\rweights      [${'#'.repeat(8)}${'.'.repeat(22)}]  25%  2.0 s  ETA 6.0 s\x1b[K`);
    t = 2050;
    p.update('weights', 0.3); // within 100 ms of the last draw: skipped
    expect(out).toHaveLength(2);
    t = 8000;
    p.update('weights', 1);
    expect(out.at(-1)).toBe(`\rweights      [${'#'.repeat(30)}] 100%  8.0 s\x1b[K`);
    p.update('aggregator');
    expect(out.at(-2)).toBe('\rweights      done in 8.0 s\x1b[K\n');
    t = 98_000;
    p.end();
    expect(out.at(-1)).toBe('\raggregator   done in 1 min 30 s\x1b[K\n');
  });

  it('not a TTY: one plain line when a stage starts and one when it ends', () => {
    let t = 0;
    const out: string[] = [];
    const p = progressReporter({ write: (s) => out.push(s) }, () => t);
    for (let i = 0; i <= 10; i++) p.update('weights', i / 10);
    t = 1500;
    p.update('heads');
    p.end();
    expect(out).toEqual(['weights…\n', 'weights      done in 1.5 s\n', 'heads…\n', 'heads        done in 0.0 s\n']);
  });
});
