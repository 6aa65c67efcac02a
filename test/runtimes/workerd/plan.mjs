// The planner work that test/runtimes/workerd.test.ts runs both in Node and inside workerd: Fisher head sums,
// HeSS budgets, pooled blocks and block masks on inputs drawn from `seed`. Every result is returned as the hex of
// its bytes, so the two runtimes can be compared bit for bit.

/** mulberry32 (as test/helpers/random.ts): the same inputs from the same seed in every runtime. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(a) {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, '0');
  return s;
}

/** `api`: the `hess-vggt/planner` namespace; `wasm`: a loaded PlannerWasm. */
export function plan(api, wasm, seed) {
  const rand = rng(seed);
  const f32 = (n) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
  // Fisher: per-head sums of squared gradients, f64.
  const heads = 4,
    rows = 8,
    cols = 33;
  const fisher = api.accumulateHeadSquares(wasm, f32(heads * rows * cols), heads, rows, new Float64Array(heads));
  // Budgets for 3 layers × 4 heads, then one layer's pooled blocks and masks.
  const S = 4,
    P = 5 + 14 * 14,
    H = 4,
    d = 16;
  const layout = api.maskLayout(S, P);
  const scores = Array.from({ length: 3 * H }, () => 0.05 + rand());
  const budgets = api.allocateBudgets(wasm, scores, H, { keyBlocks: layout.candidateKeyBlocks, sparsity: 0.6 });
  const q = f32(S * P * H * d),
    k = f32(S * P * H * d);
  const input = { q, k, S, P, heads: H, headDim: d, budgets: budgets.subarray(0, H) };
  const pooled = api.poolBlocks(wasm, input);
  const mask = api.buildMasks(wasm, input);
  return {
    variant: wasm.variant,
    simdEnabled: wasm.exports.simdEnabled(),
    fisher: hex(fisher),
    budgets: hex(budgets),
    pooledQ: hex(pooled.q),
    pooledK: hex(pooled.k),
    offsets: hex(mask.offsets),
    indices: hex(mask.indices),
    kept: mask.indices.length,
  };
}
