// Running the BUILT CLI (dist/node/cli.js, what `npx hess-vggt` runs) as a subprocess, and checking the error
// contract: exit 0, or exit 2 with exactly one line `error [CODE]: …` on stderr and no stack trace.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const CLI = resolve(process.cwd(), 'dist/node/cli.js');
export const CLI_BUILT = existsSync(CLI);
if (!CLI_BUILT) console.warn(`[hostile] skipping CLI subprocess tests: ${CLI} is missing (npm run build)`);

export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * One run of the built CLI in `cwd`, killed after `timeoutMs` (a hang shows as signal SIGKILL). 10 min, like the
 * project's other subprocess waits: a case takes 1–2 s even on a loaded machine, so only a real hang reaches it.
 */
export function runBuiltCli(args: string[], cwd: string, timeoutMs = 600_000): Promise<CliRun> {
  return new Promise((ok) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (status, signal) => {
      clearTimeout(timer);
      ok({ status, signal, stdout, stderr });
    });
  });
}

/** What is wrong with a run under the error contract (undefined when it holds). `codes`: the codes allowed. */
export function contractViolation(r: CliRun, codes?: readonly string[]): string | undefined {
  if (r.signal) return `killed by ${r.signal} (hung?)`;
  if (/\n\s+at .+\(.*:\d+:\d+\)|\n\s+at .+:\d+:\d+/.test(r.stderr))
    return `stack trace on stderr: ${r.stderr.slice(0, 400)}`;
  if (r.status === 0) return undefined;
  if (r.status !== 2) return `exit ${r.status}: ${r.stderr.slice(0, 400)}`;
  const lines = r.stderr
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('notice: ') && !l.startsWith('warning: '));
  if (lines.length !== 1) return `${lines.length} stderr lines: ${r.stderr.slice(0, 400)}`;
  const m = /^error \[([A-Z_]+)\]: \S/.exec(lines[0]);
  if (!m) return `not "error [CODE]: …": ${lines[0].slice(0, 200)}`;
  if (codes && !codes.includes(m[1])) return `code ${m[1]}, expected ${codes.join('/')}: ${lines[0].slice(0, 200)}`;
  return undefined;
}
