/**
 * A block's weights read raw from the checkpoint and prepared on the GPU ({@link prepareWeights}): the same
 * buffers, bit for bit, as {@link import('./blocks').loadBlockWeights} followed by an upload, without a JS loop
 * over the values. Used on WebGPU when the reader gives raw bytes (a Safetensors does) and every tensor of the
 * block is F32, F16 or BF16; otherwise the caller keeps the host path.
 */
import { check } from '../../errors.js';
import { prepareWeights, RAW_WEIGHT_DTYPES, type RawWeight, type RawWeightDtype } from '../../gpu/weight-prep.js';
import type { ParamSpec } from '../trunk/blocks.js';
import type { WeightReader } from './half-weights.js';
import type { ElemType } from './ops.js';

/** What a Safetensors adds to a {@link WeightReader}: dtypes and raw bytes. */
interface RawReader {
  readonly tensors: ReadonlyMap<string, { readonly dtype: string; readonly numel: number }>;
  readRaw(name: string): Promise<Uint8Array>;
}

/** Whether every `names` tensor can be prepared on the device from `reader`. */
export function canPrepareOnDevice(reader: WeightReader, names: readonly string[]): reader is WeightReader & RawReader {
  const r = reader as WeightReader & Partial<RawReader>;
  if (typeof r.readRaw !== 'function' || typeof r.tensors?.get !== 'function') return false;
  return names.every((n) => RAW_WEIGHT_DTYPES.has(r.tensors!.get(n)?.dtype ?? ''));
}

/**
 * Read the block's tensors (`${prefix}.${key}`) raw and prepare them on `device` as `type`: a map from graph input
 * name to its buffer (the caller's). Returns null when the host path must be used ({@link canPrepareOnDevice}).
 * Values are checked as the host path checks them: NaN/±Inf refused when widened to float32 (and in F32 tensors
 * narrowed to float16), float16 overflow refused.
 *
 * @example
 * const bufs = await loadBlockWeightsOnDevice(st, 'aggregator.frame_blocks.0', preParams(b), 'float16', device);
 */
export async function loadBlockWeightsOnDevice(
  reader: WeightReader,
  prefix: string,
  specs: readonly ParamSpec[],
  type: ElemType,
  device: GPUDevice,
): Promise<Map<string, GPUBuffer> | null> {
  const names = specs.map((s) => `${prefix}.${s.key}`);
  if (!canPrepareOnDevice(reader, names)) return null;
  const half = type === 'float16';
  const raw: RawWeight[] = [];
  for (const [i, s] of specs.entries()) {
    const name = names[i]!;
    const info = reader.tensors.get(name)!;
    const n = s.shape.reduce((a, c) => a * c, 1);
    check(
      info.numel === n,
      `${name} has ${info.numel} values, expected ${n} (${JSON.stringify(s.linear ?? s.shape)})`,
      'the checkpoint does not match the architecture read from it; re-run inferVggtConfig on this file',
    );
    const dtype = info.dtype as RawWeightDtype;
    // The host path widens to float32 through the checked reader except F16/BF16 going to float16 (read raw).
    raw.push({
      name,
      bytes: await reader.readRaw(name),
      dtype,
      numel: n,
      linear: s.linear,
      checkFinite: !half || dtype === 'F32',
    });
  }
  const bufs = await prepareWeights(device, raw, half);
  return new Map(specs.map((s, i) => [s.input, bufs[i]!]));
}
