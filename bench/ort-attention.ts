// onnxruntime-web's own attention, as graphs over token-major [N, H·D] Q, K, V: what our WGSL kernels are compared
// with (bench/attention.bench.ts, bench/gpu.bench.ts).
import type { AttentionShape } from '../src/attention/layout.js';
import { Graph } from '../src/onnx/builder.js';

export type OrtAttentionDType = 'float32' | 'float16';

/** MatMul → Softmax → MatMul over [H, N, N] scores (what the ONNX export of attention does). */
export function ortMatmulGraph({ N, H, D }: AttentionShape, dtype: OrtAttentionDType = 'float32'): Uint8Array {
  const g = new Graph('attn_matmul');
  const [q, k, v] = ['q', 'k', 'v'].map((n) => g.input(n, dtype, [N, H * D]));
  const shp = g.ints([N, H, D]);
  const scale =
    dtype === 'float16'
      ? g.op('Cast', [g.floats([1 / Math.sqrt(D)], [])], { to: 10 })[0]
      : g.floats([1 / Math.sqrt(D)], []);
  const qs = g.op('Mul', [q, scale])[0];
  const r = (x: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [x, shp])[0]], { perm })[0];
  const s = g.op('MatMul', [r(qs, [1, 0, 2]), r(k, [1, 2, 0])])[0];
  const o = g.op('MatMul', [g.op('Softmax', [s], { axis: -1 })[0], r(v, [1, 0, 2])])[0];
  g.output(
    g.op('Reshape', [g.op('Transpose', [o], { perm: [1, 0, 2] })[0], g.ints([N, H * D])])[0],
    dtype,
    [N, H * D],
    'o',
  );
  return g.toModel({ opset: 17 }).model;
}

/** com.microsoft MultiHeadAttention on [1, N, H·D] (ORT's fused attention). */
export function ortMhaGraph({ N, H, D }: AttentionShape, dtype: OrtAttentionDType = 'float32'): Uint8Array {
  const g = new Graph('attn_mha');
  const [q, k, v] = ['q', 'k', 'v'].map((n) => g.input(n, dtype, [1, N, H * D]));
  const o = g.op('MultiHeadAttention', [q, k, v], { num_heads: H }, { domain: 'com.microsoft' })[0];
  g.output(o, dtype, [1, N, H * D], 'o');
  return g.toModel({ opset: 17 }).model;
}
