// HeSS mask planning, step 1: mean-pool blocks of permuted tokens (bit-exact twin of maskPool in assembly/mask.ts).
// One invocation per (block, channel of heads·d): sums its block's tokens in ascending permuted order in f32,
// multiplies by the host's f32(1/n) and keeps the top 12 significand bits ("trunc12"), so that products of pooled
// values are exact and a fused multiply-add in the scoring step cannot change any bit.
// Q/K are f32, or f16 (the host rewrites `alias XT` and prepends `enable f16;`, src/gpu/specialize.ts: a type cannot
// be overridden): f16 values widen exactly, so pooling them equals pooling their f32 widening bit for bit.
// Large Q/K are bound as windows (maxStorageBufferBindingSize): pooled blocks hold only patch tokens, whose rows
// ascend in permuted order, so a range of blocks reads one contiguous window starting at element `base`.
struct Params {
  N: u32, heads: u32, d: u32, blockSize: u32,
  firstBlock: u32, numBlocks: u32, invFull: u32, invLast: u32,
  outBlock0: u32, outBlocks: u32, base: u32, _pad: u32,
}
alias XT = f32;
override WG: u32; // invocations per workgroup, a pipeline constant (POOL_WG in src/mask/gpu-mask.ts)
@group(0) @binding(0) var<storage, read> x: array<XT>;         // [N, heads·d], token-major
@group(0) @binding(1) var<storage, read> perm: array<u32>;     // permuted token i = row perm[i]
@group(0) @binding(2) var<storage, read_write> pooled: array<u32>; // f32 bits [heads, outBlocks, d]
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = p.heads * p.d;
  let c = gid.x;
  let b = gid.y;
  if (c >= row || b >= p.numBlocks) { return; }
  let t0 = (p.firstBlock + b) * p.blockSize;
  let t1 = min(t0 + p.blockSize, p.N);
  var acc = 0.0f;
  for (var t = t0; t < t1; t++) {
    acc = acc + f32(x[perm[t] * row + c - p.base]);
  }
  let inv = bitcast<f32>(select(p.invLast, p.invFull, t1 - t0 == p.blockSize));
  var bits = bitcast<u32>(acc * inv);
  bits = select(bits & 0xfffff000u, 0u, (bits & 0x7f800000u) == 0u);
  let h = c / p.d;
  pooled[(h * p.outBlocks + p.outBlock0 + b) * p.d + (c % p.d)] = bits;
}
