/**
 * Shared plumbing of the VGGT heads (camera, DPT depth, DPT point): weight loading, sessions and small graph
 * helpers the aggregator does not need (convolutions, align-corners resize, SiLU).
 */
import { HessError } from '../../errors.js';
import type { Graph } from '../../onnx/builder.js';
import type { Safetensors } from '../source/safetensors.js';

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
 * Read every tensor under `prefix.` into memory, for graphs that bake the weights (differentiation, export).
 * Keys of the result drop the prefix. The runtime heads stream their weights instead (see `head-params.ts`).
 */
export async function loadPrefixed(weights: HeadWeights, prefix: string): Promise<Map<string, LoadedTensor>> {
  const out = new Map<string, LoadedTensor>();
  for (const [name, info] of weights.tensors) {
    if (!name.startsWith(`${prefix}.`)) continue;
    out.set(name.slice(prefix.length + 1), { data: await weights.read(name), shape: info.shape });
  }
  if (out.size === 0) {
    throw new HessError(
      'BAD_CHECKPOINT',
      `the checkpoint has no ${prefix}.* tensors`,
      `load a VGGT checkpoint that includes the ${prefix}`,
    );
  }
  return out;
}

/** `x · sigmoid(x)`. */
export function silu(g: Graph, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x])[0]])[0];
}

/** Slice `x` on one axis, [start, end) (an `end` past the axis means "to the end"). */
export function sliceAxis(g: Graph, x: string, axis: number, start: number, end: number): string {
  return g.op('Slice', [x, g.ints([start]), g.ints([end]), g.ints([axis])])[0];
}

/**
 * A PyTorch Conv2d (NCHW) with a square `k × k` kernel; `w` `[out, in, k, k]` and `b` are graph values
 * (PyTorch's layout is ONNX's).
 */
export function conv2d(
  g: Graph,
  x: string,
  w: string,
  b: string | undefined,
  k: number,
  opts: { stride?: number; pad?: number } = {},
): string {
  const p = opts.pad ?? 0;
  const s = opts.stride ?? 1;
  return g.op('Conv', b ? [x, w, b] : [x, w], { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p] })[0];
}

/** A PyTorch ConvTranspose2d with kernel = stride = `k` and no padding (`w` `[in, out, k, k]`, ONNX's layout too). */
export function convTranspose2d(g: Graph, x: string, w: string, b: string, k: number): string {
  return g.op('ConvTranspose', [x, w, b], { kernel_shape: [k, k], strides: [k, k] })[0];
}

/** The last two dims of `x`'s shape, as a 1-D int64 value. */
export function spatialShape(g: Graph, x: string): string {
  return sliceAxis(g, g.op('Shape', [x])[0], 0, 2, 4);
}

/**
 * Bilinear resize of an NCHW value with `align_corners=True` (what every DPT upsample uses) to `hw`: a 1-D int64
 * value `[oh, ow]` (e.g. another map's {@link spatialShape}), or a factor applied to both axes.
 */
export function resizeAlignCorners(g: Graph, x: string, hw: string | { factor: number }): string {
  const attrs = { mode: 'linear', coordinate_transformation_mode: 'align_corners' };
  if (typeof hw === 'object') {
    const f = hw.factor;
    return g.op('Resize', [x, '', g.floats([1, 1, f, f], [4])], attrs)[0];
  }
  const nc = sliceAxis(g, g.op('Shape', [x])[0], 0, 0, 2);
  const sizes = g.op('Concat', [nc, hw], { axis: 0 })[0];
  return g.op('Resize', [x, '', '', sizes], attrs)[0];
}
