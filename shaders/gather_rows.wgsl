// out[r, :] = src[index[r], :] for rows of `width` 32-bit words (tokens of H·D f32 values, or H·D/2 words of f16
// pairs): reorders tokens into the planner's permuted order (special tokens first) before block-sparse attention,
// and back afterwards. Words are moved as u32, so any bit pattern (f16 pairs, NaN, subnormals) is copied exactly.
struct Params { rows: u32, width: u32, _a: u32, _b: u32 }

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32; // invocations per workgroup, a pipeline constant (GATHER_WG in src/runtime/wgsl-attention.ts)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = g.x + g.y * nw.x * WG;
  if (i >= p.rows * p.width) { return; }
  let r = i / p.width;
  let c = i - r * p.width;
  dst[i] = src[index[r] * p.width + c];
}
