// `node node-tiering.mjs <model dir> [--tier-up] [--no-model]` from a scratch project (package imported through its
// exports): loads onnxruntime-web through the SDK, then reports whether V8 still tiers Wasm up (a small hot module
// checked with %IsLiftoffFunction) and, unless --no-model, how long Vggt.load and one wasm-EP run take.
// Prints one `SMOKE {json}` line.
import v8 from 'node:v8';
import { loadOrt, Vggt } from 'hess-vggt';

const [model, ...flags] = process.argv.slice(2);
const tierUp = flags.includes('--tier-up');
const report = { execArgv: process.execArgv };

if (!flags.includes('--no-model')) {
  let t = performance.now();
  const m = await Vggt.load(model, { device: 'wasm', wasmTierUp: tierUp });
  report.loadMs = performance.now() - t;
  const S = 2,
    H = 126,
    W = 182;
  const data = Float32Array.from({ length: S * 3 * H * W }, (_, i) => ((i * 7919) % 1000) / 1000);
  t = performance.now();
  const r = await m.run({ data, S, H, W });
  report.runMs = performance.now() - t;
  report.finite = r.depth.every(Number.isFinite);
  await m.dispose();
} else {
  await loadOrt({ wasmTierUp: tierUp });
}

// (func (export "f") (param i32) (result i32) local.get 0 i32.const 3 i32.add), hot enough to tier up by default.
v8.setFlagsFromString('--allow-natives-syntax');
const bytes = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 127, 1, 127, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 9, 1, 7, 0, 32, 0,
  65, 3, 106, 11,
]);
const { instance } = await WebAssembly.instantiate(bytes);
const isLiftoff = new Function('f', 'return %IsLiftoffFunction(f)');
// Call it hot, then give a background TurboFan job up to 5 s (a loaded machine) to replace the Liftoff code.
let s = 0;
for (let round = 0; round < 50 && (round === 0 || isLiftoff(instance.exports.f)); round++) {
  for (let i = 0; i < 1e5; i++) s = instance.exports.f(s);
  await new Promise((r) => setTimeout(r, 100));
}
report.wasmStaysOnLiftoff = isLiftoff(instance.exports.f);
console.log(`SMOKE ${JSON.stringify(report)}`);
process.exit(0);
