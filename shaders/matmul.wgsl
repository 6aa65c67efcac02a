// C[M,N] = A[M,K] · B[K,N], row-major fp32. T×T output tile per workgroup, K walked in T-wide tiles staged
// in workgroup memory; each invocation owns one output element. Bounds-checked for any M, N, K.
struct Params { M: u32, N: u32, K: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override T: u32; // tile side, a pipeline constant (MATMUL_TILE in src/gpu/matmul.ts)
var<workgroup> As: array<f32, T * T>;
var<workgroup> Bs: array<f32, T * T>;

@compute @workgroup_size(T, T)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let row = wg.y * T + l.y;
  let col = wg.x * T + l.x;
  var acc = 0.0;
  let tiles = (p.K + T - 1u) / T;
  for (var t = 0u; t < tiles; t++) {
    let ka = t * T + l.x;
    let kb = t * T + l.y;
    As[l.y * T + l.x] = select(0.0, A[row * p.K + ka], row < p.M && ka < p.K);
    Bs[l.y * T + l.x] = select(0.0, B[kb * p.N + col], kb < p.K && col < p.N);
    workgroupBarrier();
    for (var k = 0u; k < T; k++) {
      acc += As[l.y * T + k] * Bs[k * T + l.x];
    }
    workgroupBarrier();
  }
  if (row < p.M && col < p.N) {
    C[row * p.N + col] = acc;
  }
}
