/**
 * Shared plumbing of the VGGT heads (camera, DPT depth, DPT point): weight loading, sessions and small graph
 * helpers the aggregator does not need (convolutions, align-corners resize, SiLU).
 */
import { HessError, check } from '../../errors';
import type { Graph } from '../../onnx/builder';
import { createSession, loadOrt, type ExecutionTarget, type Ort } from '../../runtime/ort';
import type { Safetensors } from '../safetensors';
import { addWeight } from './ops';

/** Where head weights come from: an opened safetensors file (or anything with the same `tensors`/`read`). */
export type HeadWeights = Pick<Safetensors, 'read'> & {
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[] }>;
};

/** A loaded tensor: data and PyTorch shape. */
export interface LoadedTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/**
 * Read every tensor under `prefix.` into memory (a head is small next to the aggregator: 0.2 GB for VGGT-1B's
 * camera head in fp32). Keys of the result drop the prefix.
 */
export async function loadPrefixed(weights: HeadWeights, prefix: string): Promise<Map<string, LoadedTensor>> {
  const out = new Map<string, LoadedTensor>();
  for (const [name, info] of weights.tensors) {
    if (!name.startsWith(`${prefix}.`)) continue;
    out.set(name.slice(prefix.length + 1), { data: await weights.read(name), shape: info.shape });
  }
  if (out.size === 0) {
    throw new HessError('BAD_CHECKPOINT', `the checkpoint has no ${prefix}.* tensors`, `load a VGGT checkpoint that includes the ${prefix}`);
  }
  return out;
}

/** A tensor from a loaded map, shape-checked (-1 = any). */
export function need(w: Map<string, LoadedTensor>, prefix: string, key: string, shape: number[]): LoadedTensor {
  const t = w.get(key);
  if (!t) throw new HessError('BAD_CHECKPOINT', `missing tensor ${prefix}.${key}`, 'use an unmodified VGGT checkpoint');
  if (t.shape.length !== shape.length || shape.some((d, i) => d !== -1 && d !== t.shape[i])) {
    throw new HessError('BAD_CHECKPOINT', `${prefix}.${key} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`,
      'the weights do not match the head configuration (check camera_heads / dpt config)');
  }
  return t;
}

/** Resolve the execution target's ORT and create a session (wraps runtime/ort). */
export async function headSession(ort: Ort | undefined, model: Uint8Array, target: ExecutionTarget) {
  const o = ort ?? (await loadOrt());
  return { ort: o, session: await createSession(o, model, target) };
}

/** `x · sigmoid(x)`. */
export function silu(g: Graph, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x])[0]])[0];
}

/** Slice `x` on one axis, [start, end). */
export function sliceAxis(g: Graph, x: string, axis: number, start: number, end: number): string {
  return g.op('Slice', [x, g.ints([start]), g.ints([end]), g.ints([axis])])[0];
}

/**
 * A PyTorch Conv2d (NCHW) with its weight `[out, in, k, k]` taken as is (ONNX uses the same layout).
 * `prefix` names the initializers, so one weight is stored once even when the conv is used several times.
 */
export function conv2d(
  g: Graph, x: string, w: LoadedTensor, b: LoadedTensor | undefined, name: string,
  opts: { stride?: number; pad?: number } = {},
): string {
  const [, , kh, kw] = w.shape as number[];
  const wn = addWeight(g, `${name}.weight`, w.data, [...w.shape]);
  const inputs = [x, wn];
  if (b) inputs.push(addWeight(g, `${name}.bias`, b.data, [...b.shape]));
  const p = opts.pad ?? 0;
  const s = opts.stride ?? 1;
  return g.op('Conv', inputs, { kernel_shape: [kh, kw], strides: [s, s], pads: [p, p, p, p] })[0];
}

/** A PyTorch ConvTranspose2d with kernel = stride and no padding (weight `[in, out, k, k]`, ONNX's layout too). */
export function convTranspose2d(g: Graph, x: string, w: LoadedTensor, b: LoadedTensor, name: string): string {
  const [, , kh, kw] = w.shape as number[];
  const wn = addWeight(g, `${name}.weight`, w.data, [...w.shape]);
  const bn = addWeight(g, `${name}.bias`, b.data, [...b.shape]);
  return g.op('ConvTranspose', [x, wn, bn], { kernel_shape: [kh, kw], strides: [kh, kw] })[0];
}

/**
 * Bilinear resize of an NCHW value to (oh, ow) with `align_corners=True` (what every DPT upsample uses).
 * The batch dimension stays symbolic: the target sizes are built from the input's own shape.
 */
export function resizeAlignCorners(g: Graph, x: string, oh: number, ow: number): string {
  const nc = sliceAxis(g, g.op('Shape', [x])[0], 0, 0, 2);
  const sizes = g.op('Concat', [nc, g.ints([oh, ow])], { axis: 0 })[0];
  return g.op('Resize', [x, '', '', sizes], { mode: 'linear', coordinate_transformation_mode: 'align_corners' })[0];
}

/** Check a Float32Array argument's length, with a fix-it naming the expected layout. */
export function checkLength(a: Float32Array, n: number, what: string, layout: string): void {
  check(a instanceof Float32Array, `${what} must be a Float32Array`, `pass ${layout} as a Float32Array`);
  if (a.length !== n) {
    throw new HessError('SHAPE_MISMATCH', `${what} has ${a.length} elements, expected ${n} (${layout})`,
      `pass ${layout}, row-major`);
  }
}
