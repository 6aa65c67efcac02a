// Flash attention over token-major [N, H, D] buffers (= [N, H·D], the natural output of Linear + Reshape):
//   O[n, h, :] = softmax_j(Q[n,h,:]·K[j,h,:] · scale) · V[j,h,:]
// Batched (dense only): the buffers hold B independent sequences of N tokens each, [B·N, H, D]; workgroup id z is
// the sequence, and a sequence attends only within itself (VGGT's per-frame attention: one dispatch, all frames).
// Two entry points share one core: `dense` walks every key, `sparse` walks only the key blocks listed for
// (head, query block) in CSR lists, so skipped blocks cost nothing (no per-element masking).
//
// Mapping: one workgroup = BQ query rows of one head, one invocation = one query row. The row's q (pre-scaled
// by scale·log2 e so that exp2 can be used) and its output accumulator live in registers (D/4 vec4 each); K/V
// tiles of BK keys are staged in workgroup memory with vec4 loads. All invocations read the same tile address at
// the same time (broadcast), so the [key][d/4] layout has no bank conflicts. Online softmax: per tile the row max
// is updated once and the accumulator rescaled once; the N×N score matrix never exists.
//
// The host (src/attention/kernel.ts) sets the rows per workgroup BQ as a pipeline constant, and rewrites by name
// (src/gpu/specialize.ts) what WGSL cannot override: the storage element type T4 (vec4<f16> plus `enable f16;` for
// the fp16 path; arithmetic is always fp32), and the head dim D and keys per tile BK, which size the function-scope
// arrays q, acc and sc (an override-sized array may only live in workgroup memory).
// Note for CPU Vulkan drivers: this shape of code (per-row arrays, one online-softmax update per tile, one flat
// loop holding the barriers) compiled 5-10x faster on Mesa lavapipe than hand-unrolled register variants.
alias T4 = vec4<f32>;
const D: u32 = 64u;
const BK: u32 = 32u;
override BQ: u32;
const D4: u32 = D / 4u;
// A finite "minus infinity": keeps exp2(m_old - m_new) well defined even under fast-math.
const NEG_BIG: f32 = -3.0e38;

struct Params {
  n: u32,        // tokens N (per sequence when batched)
  h: u32,        // heads H
  qBlock: u32,   // query rows per CSR row (sparse only)
  kBlock: u32,   // keys per listed key block (sparse only)
  nQB: u32,      // query blocks per head = ceil(N / qBlock)
  subPerQB: u32, // workgroups per query block = ceil(qBlock / BQ)
  scale: f32,    // softmax scale · log2(e)
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> Q: array<T4>;
@group(0) @binding(1) var<storage, read> K: array<T4>;
@group(0) @binding(2) var<storage, read> V: array<T4>;
@group(0) @binding(3) var<storage, read_write> O: array<T4>;
@group(0) @binding(4) var<uniform> p: Params;
// CSR with nQB + 1 offsets per head (src/attention/layout.ts): key blocks of head h, query block i are
// blockIdx[rowOffsets[r] .. rowOffsets[r+1]) with r = h·(nQB + 1) + i.
@group(0) @binding(5) var<storage, read> rowOffsets: array<u32>;
@group(0) @binding(6) var<storage, read> blockIdx: array<u32>;

var<workgroup> Ks: array<vec4<f32>, BK * D4>;
var<workgroup> Vs: array<vec4<f32>, BK * D4>;

// One loop over (listed block, tile within the block) pairs: dense is the single block [0, N). A flat loop with
// one level of barriers compiles far faster on CPU Vulkan drivers (lavapipe turns barriers into coroutines) than
// a tile loop nested in a block loop.
// `row` and the keys are positions within the sequence that starts at token `base`.
fn attention(valid: bool, row: u32, head: u32, lid: u32, e0: u32, e1: u32, isSparse: bool, base: u32) {
  var q: array<vec4<f32>, D4>;
  var acc: array<vec4<f32>, D4>;
  let qBase = ((base + min(row, p.n - 1u)) * p.h + head) * D4; // clamped: invalid rows load something harmless
  let qs = select(0.0, p.scale, valid);
  for (var c = 0u; c < D4; c++) {
    q[c] = vec4<f32>(Q[qBase + c]) * qs;
    acc[c] = vec4<f32>(0.0);
  }
  var m = NEG_BIG;
  var l = 0.0;

  var e = e0;
  var t0 = 0u;
  var bEnd = p.n;
  if (isSparse) {
    t0 = blockIdx[e] * p.kBlock;
    bEnd = min(t0 + p.kBlock, p.n);
  }
  loop {
    if (e >= e1) { break; }
    let cnt = min(BK, bEnd - t0);
    workgroupBarrier(); // everyone is done with the previous tile
    for (var i = lid; i < BK * D4; i += BQ) {
      let j = i / D4;
      var kv = vec4<f32>(0.0);
      var vv = vec4<f32>(0.0);
      if (j < cnt) {
        let g = ((base + t0 + j) * p.h + head) * D4 + (i % D4);
        kv = vec4<f32>(K[g]);
        vv = vec4<f32>(V[g]);
      }
      Ks[i] = kv;
      Vs[i] = vv;
    }
    workgroupBarrier();

    // Scores of the whole tile, then one online-softmax update per tile (row max, one rescale of acc).
    var sc: array<f32, BK>;
    var tmax = NEG_BIG;
    for (var j = 0u; j < BK; j++) {
      var d = vec4<f32>(0.0);
      for (var c = 0u; c < D4; c++) { d = fma(q[c], Ks[j * D4 + c], d); }
      let sj = select(NEG_BIG, d.x + d.y + d.z + d.w, j < cnt); // zero-filled keys past the end: "−∞"
      sc[j] = sj;
      tmax = max(tmax, sj);
    }
    let mNew = max(m, tmax);
    let alpha = exp2(m - mNew);
    m = mNew;
    for (var c = 0u; c < D4; c++) { acc[c] *= alpha; }
    var psum = 0.0;
    for (var j = 0u; j < BK; j++) {
      let pj = exp2(sc[j] - mNew);
      psum += pj;
      for (var c = 0u; c < D4; c++) { acc[c] = fma(vec4<f32>(pj), Vs[j * D4 + c], acc[c]); }
    }
    l = l * alpha + psum;

    t0 += BK;
    if (t0 >= bEnd) {
      e++;
      if (isSparse && e < e1) {
        t0 = blockIdx[e] * p.kBlock;
        bEnd = min(t0 + p.kBlock, p.n);
      }
    }
  }

  if (valid) {
    let inv = 1.0 / l;
    let oBase = ((base + row) * p.h + head) * D4;
    for (var c = 0u; c < D4; c++) { O[oBase + c] = T4(acc[c] * inv); }
  }
}

@compute @workgroup_size(BQ)
fn dense(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x * BQ + lid;
  attention(row < p.n, row, wg.y, lid, 0u, 1u, false, wg.z * p.n);
}

@compute @workgroup_size(BQ)
fn sparse(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let head = wg.y;
  let qb = wg.x / p.subPerQB;
  let inBlock = (wg.x % p.subPerQB) * BQ + lid;
  let row = qb * p.qBlock + inBlock;
  let r = head * (p.nQB + 1u) + qb;
  attention(inBlock < p.qBlock && row < p.n, row, head, lid, rowOffsets[r], rowOffsets[r + 1u], true, 0u);
}
