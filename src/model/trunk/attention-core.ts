/**
 * The attention core of a global block: `o = softmax(q·kᵀ/√d)·v` per head over all N = S·P tokens.
 *
 * Tensors are token-major `[N, H, d]` float32 ORT tensors, on the CPU (wasm EP) or GPU-resident
 * (`location === 'gpu-buffer'` on the WebGPU EP, made by sessions with `preferredOutputLocation: 'gpu-buffer'`).
 * A WGSL kernel plugs in by implementing {@link AttentionCore}: read `q.gpuBuffer` etc., write its own output
 * buffer and return `ort.Tensor.fromGpuBuffer(buf, { dataType: 'float32', dims: [N, H, d], dispose })`.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import { encodeAttention } from '../../attention/kernel.js';
import { Graph } from '../../onnx/builder.js';
import { readBuffer, readF32, STORAGE_USAGE } from '../../gpu/buffers.js';
import type { HessDevice } from '../../gpu/device.js';
import { createSession, type ExecutionTarget, type Ort } from '../../runtime/ort.js';
import { check, HessError } from '../../errors.js';
import { denseAttention } from './blocks.js';
import { type ElemType, reshape, VGGT_OPSET } from '../graph/ops.js';
import type { AttentionContext, AttentionCore } from '../../runtime/attention-core.js';

// The contract lives with the cores' runtime (a lower layer); re-exported here for the model's files.
export type { AttentionContext, AttentionCore } from '../../runtime/attention-core.js';

/** The dense-attention ONNX graph: inputs q, k, v `[N, H, d]`, output o `[N, H, d]` (scores in float32). */
export function buildDenseAttentionGraph(H: number, d: number, type: ElemType = 'float32'): Uint8Array {
  const g = new Graph('attention_dense');
  const [q, k, v] = (['q', 'k', 'v'] as const).map((n) => reshape(g, g.input(n, type, ['N', H, d]), [1, -1, H, d]));
  const o = denseAttention(g, q, k, v, d, type);
  g.output(reshape(g, o, [-1, H, d]), type, ['N', H, d], 'o');
  return g.toModel({ opset: VGGT_OPSET }).model;
}

/**
 * Dense attention as one ONNX session (MatMul → Softmax → MatMul per head). Exact, memory O(H·N²).
 *
 * @example
 * const core = await DenseOnnxAttention.create(ort, { ep: 'wasm' }, 4, 16);
 * const o = await core.run(q, k, v, N, 4, 16, { block: 0, S, P });
 */
export class DenseOnnxAttention implements AttentionCore {
  private constructor(
    private session: InferenceSession | null,
    readonly H: number,
    readonly d: number,
  ) {}

  static async create(
    ort: Ort,
    target: ExecutionTarget,
    H: number,
    d: number,
    type: ElemType = 'float32',
  ): Promise<DenseOnnxAttention> {
    const extra = target.ep === 'webgpu' ? { preferredOutputLocation: 'gpu-buffer' as const } : {};
    const s = await createSession(ort, buildDenseAttentionGraph(H, d, type), target, extra);
    return new DenseOnnxAttention(s, H, d);
  }

  async run(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    N: number,
    H: number,
    d: number,
    _ctx?: AttentionContext,
  ): Promise<Tensor> {
    check(this.session !== null, 'DenseOnnxAttention used after dispose()');
    check(
      H === this.H && d === this.d,
      `this core was built for ${this.H} heads of ${this.d}, got ${H}×${d}`,
      'create one core per (heads, head width)',
    );
    for (const t of [q, k, v]) {
      check(
        t.dims.length === 3 && t.dims[0] === N && t.dims[1] === H && t.dims[2] === d,
        `attention input dims ${JSON.stringify(t.dims)} differ from [${N}, ${H}, ${d}]`,
      );
    }
    return (await this.session.run({ q, k, v })).o;
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}

/**
 * Local (per-frame) attention of DINO and frame blocks on the WGSL flash kernel with a frame axis: q, k, v
 * `[B·T, H, d]` GPU tensors (B frames of T tokens, token-major) → o `[B·T, H, d]`, one dispatch over all frames.
 * No `[B, H, T, T]` score tensor exists: the kernel's memory is O(B·T·H·d). float16 tensors use the kernel's
 * f16-storage variant (fp32 arithmetic) and give a float16 output.
 *
 * @example
 * const local = new WgslLocalAttention(ort, gpu);
 * const o = await local.run(q, k, v, S, P, 16, 64); // q, k, v from a pre-segment on the WebGPU EP
 */
export class WgslLocalAttention {
  constructor(
    private readonly ort: Ort,
    readonly gpu: HessDevice,
  ) {}

  async run(q: Tensor, k: Tensor, v: Tensor, B: number, T: number, H: number, d: number): Promise<Tensor> {
    for (const t of [q, k, v]) {
      if (t.location !== 'gpu-buffer') {
        throw new HessError(
          'INVALID_ARGUMENT',
          'WGSL local attention needs GPU tensors (the model must run on the WebGPU EP)',
          "use localAttention 'onnx' on the wasm EP",
        );
      }
      check(
        t.dims.length === 3 && t.dims[0] === B * T && t.dims[1] === H && t.dims[2] === d,
        `local attention input dims ${JSON.stringify(t.dims)} differ from [${B}·${T}, ${H}, ${d}]`,
      );
    }
    const half = attentionDType([q, k, v]) === 'f16';
    const { device } = this.gpu;
    const n = B * T * H * d;
    const o = device.createBuffer({
      size: Math.ceil((n * (half ? 2 : 4)) / 4) * 4,
      usage: STORAGE_USAGE,
      label: 'local attention out',
    });
    try {
      const enc = device.createCommandEncoder();
      encodeAttention(
        this.gpu,
        enc,
        { q: q.gpuBuffer as GPUBuffer, k: k.gpuBuffer as GPUBuffer, v: v.gpuBuffer as GPUBuffer, o },
        { N: T, H, D: d, batch: B },
        { dtype: half ? 'f16' : 'f32' },
      );
      device.queue.submit([enc.finish()]);
    } catch (e) {
      o.destroy();
      throw e;
    }
    const download = half
      ? async () => new Uint16Array(await readBuffer(device, o, n * 2))
      : () => readF32(device, o, n);
    return this.ort.Tensor.fromGpuBuffer(o, {
      dataType: half ? 'float16' : 'float32',
      dims: [B * T, H, d],
      download: download as never,
      dispose: () => o.destroy(),
    }) as Tensor;
  }
}

/** The WGSL kernel storage type for ORT tensors q, k, v: all float32 ('f32') or all float16 ('f16'). */
export function attentionDType(ts: readonly Tensor[]): 'f32' | 'f16' {
  const type = ts[0].type;
  for (const t of ts) {
    check(
      t.type === type && (type === 'float32' || type === 'float16'),
      `attention inputs must all be float32 or all float16, got ${ts.map((x) => x.type).join(', ')}`,
    );
  }
  return type === 'float16' ? 'f16' : 'f32';
}
