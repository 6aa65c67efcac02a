/**
 * CLI progress: on a TTY one redrawn line per stage with a bar, percentage, elapsed time and an ETA (from the
 * rate so far); elsewhere (pipes, CI logs) one plain line when a stage starts and one when it ends.
 */

/** Where progress goes: a writable stream-like with an optional `isTTY`. */
export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

const secs = (ms: number) =>
  ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;

/**
 * A progress reporter: call `update(stage, fraction?)` as work advances (fraction in [0, 1], or undefined when
 * unknown) and `end()` when done. Stages are shown in the order they arrive; a new stage ends the previous one.
 *
 * @example
 * const p = progressReporter(process.stderr);
 * p.update('weights', 0.5); p.update('weights', 1); p.update('aggregator'); p.end();
 */
export function progressReporter(
  sink: ProgressSink,
  now: () => number = () => performance.now(),
): {
  update(stage: string, fraction?: number): void;
  end(): void;
} {
  let stage: string | undefined;
  let start = 0;
  let lastDraw = -Infinity;
  const finish = () => {
    if (stage === undefined) return;
    const line = `${stage.padEnd(12)} done in ${secs(now() - start)}`;
    sink.write(sink.isTTY ? `\r${line}\x1b[K\n` : `${line}\n`);
    stage = undefined;
  };
  return {
    update(next, fraction) {
      if (next !== stage) {
        finish();
        stage = next;
        start = now();
        lastDraw = -Infinity;
        if (!sink.isTTY) sink.write(`${next}…\n`);
      }
      if (!sink.isTTY) return;
      const t = now();
      if (t - lastDraw < 100 && !(fraction !== undefined && fraction >= 1)) return; // redraw at most 10×/s
      lastDraw = t;
      const elapsed = t - start;
      let line = `${next.padEnd(12)} `;
      if (fraction !== undefined && Number.isFinite(fraction)) {
        const f = Math.min(1, Math.max(0, fraction));
        const w = 30;
        line += `[${'#'.repeat(Math.round(f * w)).padEnd(w, '.')}] ${(f * 100).toFixed(0).padStart(3)}%  ${secs(elapsed)}`;
        if (f > 0 && f < 1) line += `  ETA ${secs((elapsed * (1 - f)) / f)}`;
      } else {
        line += secs(elapsed);
      }
      sink.write(`\r${line}\x1b[K`);
    },
    end: finish,
  };
}
