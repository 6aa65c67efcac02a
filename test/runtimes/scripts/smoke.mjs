// Runtime smoke run, shared by Deno, Bun and the Chromium page: imports the *built* package, runs the Wasm Fisher
// routine (SIMD and scalar) and, where asked, the WGSL matmul; prints / returns a JSON report of relative errors
// against float64 references computed here on fresh random inputs. The vitest side asserts on the report.
export async function smoke(sdk, { gpu = false, planner = null } = {}) {
  const report = { runtime: runtimeName(), wasm: {}, gpu: null };
  const heads = 4,
    rows = 8,
    cols = 33;
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
  report.planner = await planMasks(api);
  if (gpu) {
    const d = await sdk.createDevice();
    const { device } = d;
    const M = 33,
      N = 20,
      K = 47;
    const a = Float32Array.from({ length: M * K }, () => Math.random() * 2 - 1);
    const b = Float32Array.from({ length: K * N }, () => Math.random() * 2 - 1);
    const A = sdk.createStorageBuffer(device, a),
      B = sdk.createStorageBuffer(device, b),
      C = sdk.createStorageBuffer(device, M * N * 4);
    sdk.poisonBuffer(device, C);
    const enc = device.createCommandEncoder();
    sdk.encodeMatmul(device, enc, A, B, C, M, N, K);
    device.queue.submit([enc.finish()]);
    const got = await sdk.readF32(device, C, M * N);
    const want = new Float64Array(M * N);
    for (let i = 0; i < M; i++)
      for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) want[i * N + j] += a[i * K + k] * b[k * N + j];
    report.gpu = { adapter: d.name, f16: d.features.shaderF16, matmulRelErr: maxRel(got, want) };
    device.destroy();
  }
  return report;
}

// HeSS planning on its own: budgets for 2 layers of 4 heads, then one layer's block masks, in both Wasm builds.
async function planMasks(api) {
  const S = 4,
    P = 5 + 14 * 14,
    H = 4,
    d = 16;
  const layout = api.maskLayout(S, P);
  const scores = [0.4, 0.3, 0.2, 0.1, 0.25, 0.25, 0.25, 0.25];
  const q = Float32Array.from({ length: S * P * H * d }, () => Math.random() * 2 - 1);
  const k = Float32Array.from({ length: S * P * H * d }, () => Math.random() * 2 - 1);
  const out = {};
  for (const v of ['simd', 'scalar']) {
    const wasm = await api.PlannerWasm.load(v);
    const budgets = api.allocateBudgets(wasm, scores, H, { keyBlocks: layout.candidateKeyBlocks, sparsity: 0.5 });
    const mask = api.buildMasks(wasm, { q, k, S, P, heads: H, headDim: d, budgets: budgets.subarray(0, H) });
    out[v] = { budgets: Array.from(budgets), indices: Array.from(mask.indices), offsets: Array.from(mask.offsets) };
  }
  const u = api.uniformBudget(layout.candidateKeyBlocks, 0.5);
  return {
    sameMasks: JSON.stringify(out.simd) === JSON.stringify(out.scalar),
    layerSums: [0, 1].map((l) => out.simd.budgets.slice(l * H, l * H + H).reduce((a, b) => a + b, 0)),
    uniformTotal: u * H,
    kept: out.simd.indices.length,
  };
}

function maxRel(got, ref) {
  let num = 0,
    den = 0;
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
  if (typeof window !== 'undefined' || (typeof self !== 'undefined' && typeof process === 'undefined'))
    return `browser ${navigator.userAgent.match(/Chrom\w*\/[\d.]+/)?.[0] ?? ''}`;
  return `node ${process.version}`;
}
