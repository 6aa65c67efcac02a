// Shared benchmark helpers: timing with warm-up, GPU completion, and the results file writer.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';

/** A seeded LCG in [0, 1): fixed bench inputs, the same sequence on every run and machine. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** Median wall time in ms of `fn` over `reps` runs after `warmup` runs. */
export async function timeMs(fn: () => unknown | Promise<unknown>, reps = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

/**
 * Minimum wall time in ms of `fn` over `reps` runs after `warmup` runs: on a machine shared with other jobs the
 * minimum is the estimate least disturbed by them.
 */
export async function minMs(fn: () => unknown | Promise<unknown>, reps = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Resolves when the GPU queue has finished all submitted work. */
export function gpuDone(device: GPUDevice): Promise<void> {
  return device.queue.onSubmittedWorkDone();
}

export interface BenchReport {
  title: string;
  device?: string;
  notes?: string[];
  /** Markdown tables (header row first). */
  tables: { caption: string; header: string[]; rows: (string | number)[][] }[];
  data?: unknown;
}

/** Write bench/results/<name>.md and .json. */
export function writeResults(name: string, r: BenchReport): void {
  // Benches run bundled from build/bench with the repo root as the working directory (scripts/bench.mjs).
  const dir = new URL('bench/results/', `file://${process.cwd()}/`);
  mkdirSync(dir, { recursive: true });
  const env = `${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  const md: string[] = [
    `# ${r.title}`,
    '',
    `- Device: ${r.device ?? 'CPU only'}`,
    `- Host: ${env}`,
    `- Vulkan driver: ${process.env.HESS_VULKAN ?? 'n/a'}`,
    '',
  ];
  for (const t of r.tables) {
    md.push(`## ${t.caption}`, '', `| ${t.header.join(' | ')} |`, `| ${t.header.map(() => '---').join(' | ')} |`);
    for (const row of t.rows) md.push(`| ${row.map((c) => (typeof c === 'number' ? fmt(c) : c)).join(' | ')} |`);
    md.push('');
  }
  if (r.notes?.length) md.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  writeFileSync(new URL(`${name}.md`, dir), md.join('\n'));
  writeFileSync(
    new URL(`${name}.json`, dir),
    JSON.stringify({ ...r, host: env, vulkan: process.env.HESS_VULKAN }, null, 2),
  );
  console.log(md.join('\n'));
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
}
