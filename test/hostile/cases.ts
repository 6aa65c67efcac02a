// Shared machinery of the hostile-input suite (issue 12): the built package, a seeded case runner that accepts
// only a typed HessError or a checked result, and per-class tallies with time and memory bounds.
import { appendFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hostileRng } from './seed.js';

type Sdk = typeof import('../../src/index');
type Planner = typeof import('../../src/planner');

const dist = (f: string) => fileURLToPath(new URL(`../../dist/node/${f}`, import.meta.url));

/** True when `npm run build` has produced dist/node (the suite runs against the built package, as users get it). */
export const BUILT = existsSync(dist('index.js')) && existsSync(dist('planner.js'));
if (!BUILT && process.env.CI) throw new Error('test/hostile needs the built package: run `npm run build` first');

export async function loadSdk(): Promise<Sdk> {
  return (await import(/* @vite-ignore */ dist('index.js'))) as Sdk;
}

export async function loadCalibrate(): Promise<typeof import('../../src/entries/calibrate')> {
  return (await import(/* @vite-ignore */ dist('calibrate.js'))) as typeof import('../../src/entries/calibrate');
}

export async function loadPlanner(): Promise<Planner> {
  return (await import(/* @vite-ignore */ dist('planner.js'))) as Planner;
}

/**
 * Bounds every case must stay within. The time bound is a hang guard, not a performance claim: every input here
 * is small, so a case that runs a minute has looped or decoded something it should have refused.
 */
export const BOUNDS = { caseMs: 60_000, rssBytes: 2 * 2 ** 30, arrayBufferBytes: 1 * 2 ** 30 };

/** One class of hostile inputs: how many cases, how each ended, and what broke the contract. */
export class Tally {
  readonly seed: number;
  readonly rand: () => number;
  cases = 0;
  ok = 0;
  readonly typed = new Map<string, number>();
  readonly failures: string[] = [];
  maxMs = 0;
  peakRss = 0;
  peakArrayBuffers = 0;

  constructor(
    readonly cls: string,
    private readonly HessError: new (...a: never[]) => Error & { code: string },
  ) {
    ({ seed: this.seed, rand: this.rand } = hostileRng(cls)); // fixed seed (printed); HESS_SEED varies or replays it
  }

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }

  /**
   * Run one case: it passes if `fn` returns (after its own correctness checks) or throws a HessError; any other
   * exception, a case over the time bound or the process over the memory bounds is recorded as a failure.
   */
  async run(label: string, fn: () => unknown): Promise<void> {
    const t0 = performance.now();
    try {
      await fn();
      this.ok++;
    } catch (e) {
      if (e instanceof this.HessError) this.typed.set(e.code, (this.typed.get(e.code) ?? 0) + 1);
      else
        this.failures.push(
          `case ${this.cases} (${label}): ${(e as Error)?.constructor?.name ?? typeof e}: ${String((e as Error)?.message ?? e).slice(0, 300)}`,
        );
    }
    const ms = performance.now() - t0;
    this.maxMs = Math.max(this.maxMs, ms);
    if (ms > BOUNDS.caseMs)
      this.failures.push(`case ${this.cases} (${label}): ${ms.toFixed(0)} ms, over the ${BOUNDS.caseMs} ms hang guard`);
    const m = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, m.rss);
    this.peakArrayBuffers = Math.max(this.peakArrayBuffers, m.arrayBuffers);
    if (m.rss > BOUNDS.rssBytes || m.arrayBuffers > BOUNDS.arrayBufferBytes) {
      this.failures.push(
        `case ${this.cases} (${label}): memory over the bound (rss ${(m.rss / 2 ** 20).toFixed(0)} MB, arrayBuffers ${(m.arrayBuffers / 2 ** 20).toFixed(0)} MB)`,
      );
    }
    this.cases++;
  }

  /** The line the lead reports: counts per outcome, worst time, peak memory, the seed to replay. */
  summary(): string {
    const typed = [...this.typed.entries()]
      .sort()
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    return (
      `[hostile] ${this.cls}: ${this.cases} cases — ${this.ok} correct results, typed errors: ${typed || 'none'}; ` +
      `${this.failures.length} contract failures; slowest case ${this.maxMs.toFixed(0)} ms; peak rss ${(this.peakRss / 2 ** 20).toFixed(0)} MB, ` +
      `arrayBuffers ${(this.peakArrayBuffers / 2 ** 20).toFixed(0)} MB (HESS_SEED=${this.seed})`
    );
  }
}

/**
 * Print a class's summary to the process's stderr (vitest 4.1 keeps console output of passed tests quiet under the
 * root `silent: 'passed-only'`, whatever the project says), and append it to $HESS_HOSTILE_REPORT if set.
 */
export function report(t: Tally): void {
  const line = t.summary();
  process.stderr.write(`${line}\n`);
  if (process.env.HESS_HOSTILE_REPORT) appendFileSync(process.env.HESS_HOSTILE_REPORT, `${line}\n`);
}

/** Throw a plain Error (a contract failure, never mistaken for a typed error) unless `cond`. */
export function must(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`wrong result: ${what}`);
}

export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    a.byteLength === b.byteLength &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  );
}
