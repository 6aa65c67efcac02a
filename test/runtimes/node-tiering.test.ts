// Plain `node`, no V8 flags (issue 13, item 3): V8 optimising onnxruntime-web's 27 MB Wasm made `Vggt.load` of the
// tiny model take 102 s against 4.3 s with `--liftoff-only` (24×), a flag library users cannot pass. The SDK now
// sets it through v8.setFlagsFromString before ORT compiles (src/runtime/node-wasm-tiering.ts). Checked here in
// subprocesses importing the package through its exports: the mechanism (Wasm stays on Liftoff after the SDK loads
// ORT, tiers up with `wasmTierUp: true`), and plain-node load + run time as a ratio to a `--liftoff-only` process.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root, runSmoke, scratchProject } from './harness.js';

const dir = scratchProject();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MODEL = join(root, 'models/vggt-synth');
const script = (...args: string[]) => ['node-tiering.mjs', MODEL, ...args];

describe('Vggt in plain node (no V8 flags)', () => {
  it('loading onnxruntime-web keeps Wasm on Liftoff; wasmTierUp: true leaves V8 tiering up', () => {
    const byDefault = runSmoke(process.execPath, script('--no-model'), dir);
    expect(byDefault.execArgv).toEqual([]);
    expect(byDefault.wasmStaysOnLiftoff).toBe(true);
    const tierUp = runSmoke(process.execPath, script('--no-model', '--tier-up'), dir);
    expect(tierUp.wasmStaysOnLiftoff).toBe(false);
  });

  it('load + one run take at most 3× a --liftoff-only process (24× before)', () => {
    const flagged = runSmoke(process.execPath, ['--liftoff-only', ...script()], dir);
    const plain = runSmoke(process.execPath, script(), dir);
    const ratio = (plain.loadMs + plain.runMs) / (flagged.loadMs + flagged.runMs);
    console.info(
      `[node-tiering] plain load ${plain.loadMs.toFixed(0)} + run ${plain.runMs.toFixed(0)} ms; --liftoff-only load ${flagged.loadMs.toFixed(0)} + run ${flagged.runMs.toFixed(0)} ms; ratio ${ratio.toFixed(2)}`,
    );
    expect(plain.execArgv).toEqual([]);
    expect(flagged.execArgv).toEqual(['--liftoff-only']);
    expect(plain.finite && flagged.finite).toBe(true);
    expect(ratio).toBeLessThan(3);
  });
});
