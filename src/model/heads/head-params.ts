/**
 * Head weights as graph values. The runtime heads declare every weight as a graph **input** and feed it from a
 * tensor uploaded once (GPU-resident on WebGPU), so no head graph carries its weights (VGGT-1B's camera head alone
 * is 0.87 GB) and one DPT session serves every image size. Graphs that are differentiated or exported bake the
 * same weights as initializers instead; both go through {@link HeadParams}, so the two cannot drift apart.
 */
import type { Tensor } from 'onnxruntime-web';
import { check, HessError, throwIfAborted } from '../../errors.js';
import { createStorageBuffer, writeBuffer } from '../../gpu/buffers.js';
import { prepareWeights, type RawWeight } from '../../gpu/weight-prep.js';
import type { Graph } from '../../onnx/builder.js';
import type { ExecutionTarget, Ort } from '../../runtime/ort.js';
import { readHalf, transposeHalf } from '../graph/half-weights.js';
import type { HeadWeights, LoadedTensor } from './heads-common.js';
import { canPrepareOnDevice } from '../graph/device-weights.js';
import { addWeight, type ElemType, transposeLinear } from '../graph/ops.js';

/** One weight declared as a graph input: checkpoint key (after the prefix), input name, graph dims. */
export interface HeadParam {
  readonly key: string;
  readonly input: string;
  readonly dims: readonly number[];
  /** PyTorch `[out, in]` of a Linear weight, fed transposed (`[in, out]`, the layout `linear` multiplies by). */
  readonly linear?: readonly [number, number];
}

/**
 * Where a head graph's weights come from: `baked` (a {@link loadPrefixed} map: initializers) or `shapes` (the
 * checkpoint's tensor table, full names: graph inputs, no data needed to build the graph).
 */
export type HeadParamSource =
  | { readonly baked: ReadonlyMap<string, LoadedTensor> }
  | { readonly shapes: ReadonlyMap<string, { readonly shape: readonly number[] }> };

/**
 * Binds a head's checkpoint tensors to graph values, checking each shape. `type` is the element type of the
 * declared inputs ('float16' for a float16 head; baked weights are float32 only: they serve differentiation).
 */
export class HeadParams {
  /** The weights declared as inputs (empty when baked), in declaration order. */
  readonly inputs: HeadParam[] = [];
  private readonly bound = new Map<string, string>();

  constructor(
    private readonly g: Graph,
    readonly prefix: string,
    private readonly src: HeadParamSource,
    readonly type: ElemType = 'float32',
  ) {
    check(type === 'float32' || !('baked' in src), 'baked head weights are float32 only');
  }

  /** The PyTorch shape of `key`, checked against `expected` (-1 = any). */
  shape(key: string, expected: readonly number[]): readonly number[] {
    const s =
      'baked' in this.src ? this.src.baked.get(key)?.shape : this.src.shapes.get(`${this.prefix}.${key}`)?.shape;
    if (!s)
      throw new HessError(
        'BAD_CHECKPOINT',
        `missing tensor ${this.prefix}.${key}`,
        'use an unmodified VGGT checkpoint',
      );
    if (s.length !== expected.length || expected.some((d, i) => d !== -1 && d !== s[i])) {
      throw new HessError(
        'BAD_CHECKPOINT',
        `${this.prefix}.${key} has shape [${s.join(', ')}], expected [${expected.join(', ')}]`,
        'the weights do not match the head configuration (check camera_heads / dpt config)',
      );
    }
    return s;
  }

  /** A tensor as stored (vectors, conv kernels), optionally viewed with other `dims` of the same size. */
  tensor(key: string, expected: readonly number[], dims?: readonly number[]): string {
    const shape = this.shape(key, expected);
    return this.bind({ key, input: `${this.prefix}.${key}`, dims: [...(dims ?? shape)] });
  }

  /** A PyTorch Linear `${key}.weight [out, in]` (+ `${key}.bias [out]`), as `linear` takes it (weight `[in, out]`). */
  linear(key: string, out: number, inDim: number, bias = true): { w: string; b?: string } {
    this.shape(`${key}.weight`, [out, inDim]);
    const w = this.bind({
      key: `${key}.weight`,
      input: `${this.prefix}.${key}.weight`,
      dims: [inDim, out],
      linear: [out, inDim],
    });
    return bias ? { w, b: this.tensor(`${key}.bias`, [out]) } : { w };
  }

  private bind(p: HeadParam): string {
    const done = this.bound.get(p.input);
    if (done) return done; // a weight used twice (e.g. across iterations) is one value
    let name: string;
    if ('baked' in this.src) {
      const t = this.src.baked.get(p.key)!;
      const data = p.linear ? transposeLinear(t.data, p.linear[0], p.linear[1]) : t.data;
      name = addWeight(this.g, p.input, data, [...p.dims]);
    } else {
      name = this.g.input(p.input, this.type, [...p.dims]);
      this.inputs.push(p);
    }
    this.bound.set(p.input, name);
    return name;
  }
}

/** Weights of one head as session feeds, and the GPU buffers behind them (destroy them with {@link releaseFeeds}). */
export interface HeadFeeds {
  readonly feeds: Record<string, Tensor>;
  readonly buffers: GPUBuffer[];
  /** Bytes of weights fed (4 per value in float32, 2 in float16). */
  readonly bytes: number;
}

/**
 * Read a head's weights one tensor at a time and turn each into a feed: on WebGPU a storage buffer written once
 * (the host copy is dropped right after), on the wasm EP a CPU tensor (ORT copies it into its heap per run and
 * frees it after, so the 4 GiB heap never holds a head's weights between runs). `type` 'float16' (WebGPU only)
 * uploads float16 bit patterns: F16 tensors as stored, BF16 rounded, F32 narrowed once ({@link readHalf}); no
 * float32 copy is kept.
 */
export async function loadHeadFeeds(
  weights: HeadWeights,
  prefix: string,
  params: readonly HeadParam[],
  ort: Ort,
  target: ExecutionTarget,
  signal?: AbortSignal,
  type: ElemType = 'float32',
): Promise<HeadFeeds> {
  check(type === 'float32' || target.ep === 'webgpu', 'float16 head weights need the WebGPU EP');
  const feeds: Record<string, Tensor> = {};
  const buffers: GPUBuffer[] = [];
  let bytes = 0;
  try {
    if (
      target.ep === 'webgpu' &&
      canPrepareOnDevice(
        weights,
        params.map((p) => `${prefix}.${p.key}`),
      )
    ) {
      // Raw bytes converted, transposed and checked on the device (bit-identical to the loop below, no JS loop
      // over the values), in batches of ~64 MB of raw bytes.
      const half = type === 'float16';
      let batch: { p: HeadParam; raw: RawWeight }[] = [];
      const flush = async () => {
        const bufs = await prepareWeights(
          target.gpu.device,
          batch.map((b) => b.raw),
          half,
        );
        batch.forEach(({ p }, i) => {
          buffers.push(bufs[i]!);
          feeds[p.input] = ort.Tensor.fromGpuBuffer(bufs[i]!, { dataType: type, dims: [...p.dims] });
        });
        batch = [];
      };
      let pending = 0;
      for (const p of params) {
        throwIfAborted(signal);
        const name = `${prefix}.${p.key}`;
        const info = (weights.tensors as ReadonlyMap<string, { readonly dtype: string; readonly numel: number }>).get(
          name,
        )!;
        const n = checkValueCount(name, info.numel, p);
        const raw = await weights.readRaw(name);
        const dtype = info.dtype as RawWeight['dtype'];
        // as the host path: widened values are checked finite; F16/BF16 kept as float16 are taken as stored
        batch.push({
          p,
          raw: { name, bytes: raw, dtype, numel: n, linear: p.linear, checkFinite: !half || dtype === 'F32' },
        });
        bytes += (half ? 2 : 4) * n;
        pending += raw.byteLength;
        if (pending >= DEVICE_BATCH_BYTES) {
          await flush();
          pending = 0;
        }
      }
      if (batch.length) await flush();
      return { feeds, buffers, bytes };
    }
    for (const p of params) {
      throwIfAborted(signal);
      const name = `${prefix}.${p.key}`;
      let data: Float32Array | Uint16Array =
        type === 'float16' ? await readHalf(weights, name) : await weights.read(name);
      checkValueCount(name, data.length, p);
      if (p.linear) {
        data =
          data instanceof Uint16Array
            ? transposeHalf(data, p.linear[0], p.linear[1])
            : transposeLinear(data, p.linear[0], p.linear[1]);
      }
      bytes += data.byteLength;
      if (target.ep === 'wasm') {
        feeds[p.input] = new ort.Tensor('float32', data as Float32Array, [...p.dims]);
      } else {
        // ORT's kernels may read a small tensor as whole vectors (a Cast bound a 2-value float16 bias as 8 bytes):
        // pad each buffer to 16 bytes, as ORT pads its own
        const buf = createStorageBuffer(target.gpu.device, Math.ceil(Math.max(data.byteLength, 1) / 16) * 16, name);
        writeBuffer(target.gpu.device, buf, data);
        buffers.push(buf);
        feeds[p.input] = ort.Tensor.fromGpuBuffer(buf, { dataType: type, dims: [...p.dims] });
      }
    }
  } catch (e) {
    for (const b of buffers) b.destroy();
    throw e;
  }
  return { feeds, buffers, bytes };
}

/** Refuse a tensor of `count` values where `p` needs another count (BAD_CHECKPOINT); returns the count `p` needs. */
function checkValueCount(name: string, count: number, p: HeadParam): number {
  const n = p.dims.reduce((a, d) => a * d, 1);
  if (count !== n) {
    throw new HessError('BAD_CHECKPOINT', `${name} has ${count} values, expected ${n}`, 'use an unmodified checkpoint');
  }
  return n;
}

/** Raw bytes held before a batch of head weights is prepared on the device. */
const DEVICE_BATCH_BYTES = 64 * 2 ** 20;

/** Destroy the GPU buffers behind a head's weight feeds (queued work that reads them still completes). */
export function releaseFeeds(f: HeadFeeds): void {
  for (const b of f.buffers) b.destroy();
  f.buffers.length = 0;
}
