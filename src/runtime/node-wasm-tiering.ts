/**
 * Plain `node` without V8 flags: onnxruntime-web's Wasm (27 MB, asyncify build) is compiled by V8's baseline
 * compiler (Liftoff) and then, function by function as they get hot, re-compiled by its optimising compiler
 * (TurboFan). For this module that second tier costs about a minute of CPU, spent while the first sessions are
 * created and run: `Vggt.load` of the tiny model took 102 s in plain Node against 4.3 s with `--liftoff-only`
 * (measured on this project's loaded 2-core machine). Library users cannot pass that flag (NODE_OPTIONS refuses
 * it), so the SDK sets it itself through `v8.setFlagsFromString` before onnxruntime-web compiles its Wasm.
 *
 * What that changes, honestly: the flag is process-wide. V8 reads it whenever a Wasm function would tier up (not
 * once per module), so it cannot be scoped to onnxruntime-web: every Wasm module in the process stays on Liftoff
 * (JavaScript is not affected). Wasm-EP runs are then ~1.3× slower once the optimised code would have been ready.
 * `wasmTierUp: true` (a load option) keeps V8's default; a process started with any Wasm tiering flag is left as
 * the person who started it chose.
 *
 * Measured alternative, not taken yet: the cost is the asyncify build's (the one `onnxruntime-web/webgpu` loads).
 * ORT's plain build (`onnxruntime-web/wasm`, 14 MB) tiers up for 4.8 s of CPU in the same `Vggt.load` (2.9 s
 * Liftoff-only, 112 s asyncify), with faster runs after; a Node wasm-EP path on that build would need no flag, at
 * the price of a second ORT module whenever a process uses both EPs.
 */

type NodeProcess = { versions?: { node?: string; bun?: string }; execArgv?: string[] };

let decided = false;

/** True in Node itself (not Deno's or Bun's Node compatibility, whose engines ignore V8 flags or have none). */
function isNode(): boolean {
  const p = (globalThis as { process?: NodeProcess }).process;
  return Boolean(p?.versions?.node) && !p?.versions?.bun && !('Deno' in globalThis);
}

/** Wasm tiering flags given on the command line: the person who started the process decided already. */
const TIERING_FLAG = /^--(no-)?(liftoff-only|liftoff|wasm-tier-up|wasm-dynamic-tiering|wasm-lazy-compilation)(=|$)/;

/**
 * Keep Wasm on V8's baseline tier in Node (decided by the first call in a process, before onnxruntime-web compiles
 * its module), unless `tierUp` or a tiering flag on the command line says otherwise. Returns what was done, for tests and logs.
 */
export async function chooseNodeWasmTiering(tierUp: boolean): Promise<'liftoff-only' | 'unchanged'> {
  if (decided) return 'unchanged'; // the first load decides, for the whole process
  decided = true;
  if (tierUp || !isNode()) return 'unchanged';
  const argv = (globalThis as { process?: NodeProcess }).process?.execArgv ?? [];
  if (argv.some((a) => TIERING_FLAG.test(a))) return 'unchanged';
  const name = 'node:v8'; // not a literal: browser bundles must not try to resolve it
  const v8 = (await import(/* @vite-ignore */ name)) as typeof import('node:v8');
  v8.setFlagsFromString('--liftoff-only');
  return 'liftoff-only';
}
