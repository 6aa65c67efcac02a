// Runtime smoke run, shared by Deno, Bun and the Chromium page: imports the *built* package, runs the Wasm Fisher
// routine (SIMD and scalar) and, where asked, the WGSL matmul; prints / returns a JSON report of relative errors
// against float64 references computed here on fresh random inputs. The vitest side asserts on the report.
export async function smoke(sdk, { gpu = false, planner = null } = {}) {
  const report = { runtime: runtimeName(), wasm: {}, gpu: null };
  const heads = 4, rows = 8, cols = 33;
  const g = Float32Array.from({ length: heads * rows * cols }, () => Math.random() * 2 - 1);
  const ref = new Float64Array(heads);
  for (let h = 0; h < heads; h++) for (let i = 0; i < rows * cols; i++) ref[h] += g[h * rows * cols + i] ** 2;
  const api = planner ?? sdk;
  for (const v of ['simd', 'scalar']) {
    const wasm = await api.PlannerWasm.load(v);
    const out = api.accumulateHeadSquares(wasm, g, heads, rows, new Float64Array(heads));
    report.wasm[v] = { simdEnabled: wasm.exports.simdEnabled(), relErr: maxRel(out, ref) };
  }
  report.hasSimd = api.hasWasmSimd();
  if (gpu) {
    const d = await sdk.createDevice();
    const { device } = d;
    const M = 33, N = 20, K = 47;
    const a = Float32Array.from({ length: M * K }, () => Math.random() * 2 - 1);
    const b = Float32Array.from({ length: K * N }, () => Math.random() * 2 - 1);
    const A = sdk.createStorageBuffer(device, a), B = sdk.createStorageBuffer(device, b), C = sdk.createStorageBuffer(device, M * N * 4);
    sdk.poisonBuffer(device, C);
    const enc = device.createCommandEncoder();
    sdk.encodeMatmul(device, enc, A, B, C, M, N, K);
    device.queue.submit([enc.finish()]);
    const got = await sdk.readF32(device, C, M * N);
    const want = new Float64Array(M * N);
    for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) want[i * N + j] += a[i * K + k] * b[k * N + j];
    report.gpu = { adapter: d.name, f16: d.features.shaderF16, matmulRelErr: maxRel(got, want) };
    device.destroy();
  }
  return report;
}

function maxRel(got, ref) {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!Number.isFinite(d)) return Infinity;
    num = Math.max(num, d);
    den = Math.max(den, Math.abs(ref[i]));
  }
  return num / den;
}

function runtimeName() {
  if (typeof Deno !== 'undefined') return `deno ${Deno.version.deno}`;
  if (typeof Bun !== 'undefined') return `bun ${Bun.version}`;
  if (typeof window !== 'undefined' || typeof self !== 'undefined' && typeof process === 'undefined') return `browser ${navigator.userAgent.match(/Chrom\w*\/[\d.]+/)?.[0] ?? ''}`;
  return `node ${process.version}`;
}
