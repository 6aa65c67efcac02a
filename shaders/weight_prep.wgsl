// Weight preparation on load, on the device: one invocation per 32-bit output word. Reads a tensor's raw
// checkpoint bytes (F32, F16 or BF16, little-endian), optionally transposes a Linear weight [rows=out, cols=in] to
// [in, out], converts to f32 or f16 bit patterns with integer operations only (so the result is bit-identical to
// the host's toFloat32 / f32ToF16Bits on every adapter) and records the first bad element per tensor:
//   status[4·slot]     = least source index whose value is NaN  (checked when check_finite is set),
//   status[4·slot + 1] = least source index whose value is ±Inf (checked when check_finite is set),
//   status[4·slot + 2] = least source index whose f16 result is ±Inf (f16 output only: beyond ±65504).
// On the CPU adapter this replaces per-element JS loops (conversion, transpose, finite check) that dominated
// loading VGGT-1B under V8's --no-opt.

struct Params {
  numel: u32,
  src_type: u32, // 0 F32, 1 F16, 2 BF16
  dst_half: u32, // 0 f32 words, 1 f16 pairs (element 2w in the low half of word w)
  rows: u32, // transpose: PyTorch [out, in] = [rows, cols]
  cols: u32,
  transpose: u32,
  slot: u32,
  check_finite: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<storage, read_write> status: array<atomic<u32>>;
@group(0) @binding(3) var<uniform> p: Params;

fn half_at(s: u32) -> u32 {
  return (src[s >> 1u] >> ((s & 1u) * 16u)) & 0xffffu;
}

// f16 bits → f32 bits, exact (subnormals normalised; NaN payload kept).
fn half_to_f32(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0x1fu) { return sign | 0x7f800000u | (m << 13u); }
  if (e != 0u) { return sign | ((e + 112u) << 23u) | (m << 13u); }
  if (m == 0u) { return sign; }
  var ee = 113u;
  var mm = m;
  loop {
    if ((mm & 0x400u) != 0u) { break; }
    mm = mm << 1u;
    ee = ee - 1u;
  }
  return sign | (ee << 23u) | ((mm & 0x3ffu) << 13u);
}

// f32 bits → f16 bits, round to nearest even; overflow → ±Inf; NaN stays NaN (src/attention/f16.ts f32ToF16Bits).
fn f32_to_half(b: u32) -> u32 {
  let sign = (b >> 16u) & 0x8000u;
  let exp = i32((b >> 23u) & 0xffu);
  var mant = b & 0x7fffffu;
  if (exp == 255) { return sign | 0x7c00u | select(0u, 0x200u, mant != 0u); }
  let e = exp - 127 + 15;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    mant = mant | 0x800000u;
    let shift = u32(14 - e);
    var hs = mant >> shift;
    let rem = mant & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (hs & 1u) != 0u)) { hs = hs + 1u; }
    return sign | hs;
  }
  var h = (u32(e) << 10u) | (mant >> 13u);
  let rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) { h = h + 1u; }
  return sign | h;
}

// Source index of output element e.
fn source_index(e: u32) -> u32 {
  if (p.transpose == 0u) { return e; }
  let i = e / p.rows; // output [cols, rows]: e = i·rows + o
  let o = e - i * p.rows;
  return o * p.cols + i;
}

// Output element e as f32 or f16 bits (low 16 bits), with the checks.
fn element(e: u32) -> u32 {
  let s = source_index(e);
  var bits32 = 0u;
  var half = 0u;
  var have_half = false;
  if (p.src_type == 0u) {
    bits32 = src[s];
  } else if (p.src_type == 1u) {
    half = half_at(s);
    have_half = true;
    bits32 = half_to_f32(half);
  } else {
    bits32 = half_at(s) << 16u;
  }
  if (p.check_finite != 0u && (bits32 & 0x7f800000u) == 0x7f800000u) {
    atomicMin(&status[4u * p.slot + select(1u, 0u, (bits32 & 0x7fffffu) != 0u)], s);
  }
  if (p.dst_half == 0u) { return bits32; }
  if (!have_half) { half = f32_to_half(bits32); }
  if ((half & 0x7fffu) == 0x7c00u) { atomicMin(&status[4u * p.slot + 2u], s); }
  return half;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * 256u;
  if (p.dst_half == 0u) {
    if (w >= p.numel) { return; }
    dst[w] = element(w);
    return;
  }
  let e0 = 2u * w;
  if (e0 >= p.numel) { return; }
  var word = element(e0);
  if (e0 + 1u < p.numel) { word = word | (element(e0 + 1u) << 16u); }
  dst[w] = word;
}
