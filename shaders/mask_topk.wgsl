// HeSS mask planning, step 2: per (query block, head) keep the top-c_h candidate key blocks by pooled logit, ties to
// the lower index, and write the CSR row (bit-exact twin of maskSelect in assembly/mask.ts). One workgroup of 256
// per row: scores → order-preserving u32 keys (the first CACHE cached in workgroup memory, the rest recomputed),
// 4-pass radix select of the c-th largest key, then an order-preserving compaction by workgroup prefix sums.
// WG = 256 is the algorithm's, not a tuning knob: one invocation per radix-histogram bin (8-bit digits).
const WG: u32 = 256u;
const CACHE: u32 = 3072u;
override MAX_D: u32; // widest head dim, a pipeline constant (TOPK_CONSTANTS in src/mask/gpu-mask.ts)

struct Params {
  heads: u32, d: u32, nQ: u32, nK: u32,
  denseQ: u32, specialK: u32, numQueryBlocks: u32, numKeyBlocks: u32,
}
@group(0) @binding(0) var<storage, read> pq: array<f32>;       // [heads, nQ, d] pooled sparse query blocks
@group(0) @binding(1) var<storage, read> pk: array<f32>;       // [heads, nK, d] pooled candidate key blocks
@group(0) @binding(2) var<storage, read> budgets: array<u32>;  // [heads]
@group(0) @binding(3) var<storage, read> offsets: array<u32>;  // [heads·(numQueryBlocks+1)]
@group(0) @binding(4) var<storage, read_write> indices: array<u32>;
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> qs: array<f32, MAX_D>;
var<workgroup> cache: array<u32, CACHE>;
var<workgroup> hist: array<atomic<u32>, WG>;
var<workgroup> scan: array<u32, WG>;
var<workgroup> wprefix: u32;
var<workgroup> wrem: u32;

fn score_key(h: u32, j: u32) -> u32 {
  let kb = (h * p.nK + j) * p.d;
  var acc = vec4<f32>(0.0);
  for (var i = 0u; i < p.d; i += 4u) {
    let a = vec4<f32>(qs[i], qs[i + 1u], qs[i + 2u], qs[i + 3u]);
    let b = vec4<f32>(pk[kb + i], pk[kb + i + 1u], pk[kb + i + 2u], pk[kb + i + 3u]);
    acc = acc + a * b; // products of trunc12 values are exact: fused or not, the same bits
  }
  let s = (acc.x + acc.y) + (acc.z + acc.w);
  var bits = bitcast<u32>(s);
  if ((bits & 0x7f800000u) == 0u) { bits = 0u; }
  return select(bits | 0x80000000u, ~bits, (bits >> 31u) != 0u);
}

fn get_key(h: u32, j: u32) -> u32 {
  if (j < CACHE) { return cache[j]; }
  return score_key(h, j);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wid.x;
  let h = wid.y;
  let start = offsets[h * (p.numQueryBlocks + 1u) + r];
  if (r < p.denseQ) {
    for (var j = lid; j < p.numKeyBlocks; j += WG) { indices[start + j] = j; }
    return;
  }
  for (var j = lid; j < p.specialK; j += WG) { indices[start + j] = j; }
  let rq = r - p.denseQ;
  for (var i = lid; i < p.d; i += WG) { qs[i] = pq[(h * p.nQ + rq) * p.d + i]; }
  if (lid == 0u) { wprefix = 0u; wrem = min(budgets[h], p.nK); }
  workgroupBarrier();
  for (var j = lid; j < min(p.nK, CACHE); j += WG) { cache[j] = score_key(h, j); }

  // Radix select: the c-th largest key (c = wrem), and how many keys equal to it to take.
  var mask = 0u;
  for (var ps = 0u; ps < 4u; ps++) {
    let shift = 24u - 8u * ps;
    atomicStore(&hist[lid], 0u);
    workgroupBarrier();
    let prefix = wprefix;
    for (var j = lid; j < p.nK; j += WG) {
      let k = get_key(h, j);
      if ((k & mask) == prefix) { atomicAdd(&hist[(k >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var rem = wrem;
      var b = 255i;
      loop {
        let cnt = atomicLoad(&hist[b]);
        if (cnt >= rem || b == 0i) { wprefix = wprefix | (u32(b) << shift); break; }
        rem -= cnt;
        b -= 1i;
      }
      wrem = rem;
    }
    workgroupBarrier();
    mask = mask | (255u << shift);
  }
  let T = wprefix;
  let rem = wrem;

  // Compaction in ascending j: keys > T, plus the first `rem` keys == T.
  var eqRun = 0u;
  var selRun = 0u;
  let nChunks = (p.nK + WG - 1u) / WG;
  for (var ch = 0u; ch < nChunks; ch++) {
    let j = ch * WG + lid;
    var gt = 0u;
    var eq = 0u;
    if (j < p.nK) {
      let k = get_key(h, j);
      gt = select(0u, 1u, k > T);
      eq = select(0u, 1u, k == T);
    }
    let mine = (gt << 16u) | eq;
    scan[lid] = mine;
    workgroupBarrier();
    for (var off = 1u; off < WG; off <<= 1u) {
      var v = scan[lid];
      if (lid >= off) { v += scan[lid - off]; }
      workgroupBarrier();
      scan[lid] = v;
      workgroupBarrier();
    }
    let excl = scan[lid] - mine;
    let tot = scan[WG - 1u];
    let eqLeft = select(0u, rem - eqRun, rem > eqRun); // equal keys still to take before this chunk
    let eqB = excl & 0xffffu;
    if (gt == 1u || (eq == 1u && eqB < eqLeft)) {
      indices[start + p.specialK + selRun + (excl >> 16u) + min(eqB, eqLeft)] = p.specialK + j;
    }
    workgroupBarrier();
    selRun += (tot >> 16u) + min(tot & 0xffffu, eqLeft);
    eqRun += tot & 0xffffu;
  }
}
