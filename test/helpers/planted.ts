// A "planted-sensitivity" VGGT or π³: the tiny fixture with, in every global layer (plantedModel) or in a few
// (plantedHeads, as weight overrides), some heads made to matter much more than the others (their output-projection
// columns scaled up, the rest scaled down).
// The HeSS scores such a model deserves are known: a head's Fisher trace grows with the square of its output scale.
import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import { resolve } from 'node:path';
import { openSafetensors, bytesSource } from '../../src/model/source/safetensors.js';
import { buildSafetensors, type Entry } from '../cpu/model/st-helpers.js';
import { FIXTURE } from '../../bench/vggt-tiny.js';
import { PI3_FIXTURE } from '../fixtures/pi3-tiny.js';
import { plantedHess } from '../../bench/planted-hess.js';
import type { HessFile } from '../../src/hess/hess-file.js';

export interface PlantedModel {
  /** model.safetensors bytes (pass with the fixture's config.json override). */
  bytes: Uint8Array;
  /** Per global layer, per head output scale. */
  scales: number[][];
  /** HeSS scores proportional to scale². */
  hess: HessFile;
}

/** Where each model's global layers are: layer l's attention output projection, and its width tensors. */
const LAYOUTS = {
  vggt: {
    fixture: FIXTURE,
    width: 'aggregator.camera_token',
    proj: (l: number) => `aggregator.global_blocks.${l}.attn.proj.weight`,
  },
  // π³: the global blocks are the odd decoder blocks.
  pi3: { fixture: PI3_FIXTURE, width: 'register_token', proj: (l: number) => `decoder.${2 * l + 1}.attn.proj.weight` },
};

export async function plantedModel(
  rand: () => number,
  opts: { strong?: number; weak?: number; sensitivePerLayer?: number; model?: 'vggt' | 'pi3' } = {},
): Promise<PlantedModel> {
  const { strong = 3, weak = 0.05, sensitivePerLayer = 1 } = opts;
  const layout = LAYOUTS[opts.model ?? 'vggt'];
  const st = await openSafetensors(
    bytesSource(new Uint8Array(await readFile(resolve(layout.fixture, 'model.safetensors')))),
  );
  const C = st.tensors.get(layout.width)!.shape.at(-1)!;
  const d = st.tensors.get(layout.proj(0).replace('proj.weight', 'q_norm.weight'))!.shape[0];
  const H = C / d;
  let depth = 0;
  while (st.tensors.has(layout.proj(depth))) depth++;
  const layerOf = new Map(Array.from({ length: depth }, (_, l) => [layout.proj(l), l]));
  const scales: number[][] = [];
  for (let l = 0; l < depth; l++) {
    const order = Array.from({ length: H }, (_, h) => h).sort(() => rand() - 0.5);
    const row = new Array(H).fill(weak);
    for (const h of order.slice(0, sensitivePerLayer)) row[h] = strong;
    scales.push(row);
  }
  const entries: Entry[] = [];
  for (const [name, info] of st.tensors) {
    const data = await st.read(name);
    const l = layerOf.get(name);
    if (l !== undefined) {
      const s = scales[l];
      scaleHeads(data, C, d, (h) => s[h]);
    }
    entries.push({
      name,
      dtype: 'F32',
      shape: [...info.shape],
      bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
  }
  return { bytes: buildSafetensors(entries), scales, hess: plantedHess(scales.map((r) => r.map((x) => x * x))) };
}

/** Heads planted in a loaded checkpoint: which head of which global layer, and the weight overrides that plant them. */
export interface PlantedHeads {
  /** Global layer → its sensitive head. */
  heads: Map<number, number>;
  /** Full tensor name → scaled `attn.proj.weight` (pass as the gradients' `overrides`). */
  overrides: Map<string, Float32Array>;
}

/**
 * Plant one sensitive head in each of `layers` random global layers (`globalBlock(l)`: the layer's block prefix):
 * its output-projection columns ×4, every other head's ×0.25, so ∂e/∂W_Q of the planted head is ~16× the others'
 * (Fisher ~256×).
 */
export async function plantedHeads(
  weights: { read(name: string): Promise<Float32Array> },
  cfg: { depth: number; numHeads: number; headDim: number; embedDim: number },
  globalBlock: (l: number) => string,
  rand: () => number,
  layers = 3,
): Promise<PlantedHeads> {
  const { depth, numHeads, headDim: d, embedDim: C } = cfg;
  const heads = new Map<number, number>();
  const overrides = new Map<string, Float32Array>();
  while (heads.size < layers) heads.set(Math.floor(rand() * depth), Math.floor(rand() * numHeads));
  for (const [L, h] of heads) {
    const key = `${globalBlock(L)}.attn.proj.weight`;
    const w = Float32Array.from(await weights.read(key));
    scaleHeads(w, C, d, (k) => (k === h ? 4 : 0.25));
    overrides.set(key, w);
  }
  return { heads, overrides };
}

/** Scale an `attn.proj.weight` `[C_out, C_in]` in place: input column c belongs to head ⌊c / d⌋. */
function scaleHeads(w: Float32Array, C: number, d: number, scale: (head: number) => number): void {
  for (let o = 0; o < C; o++) for (let c = 0; c < C; c++) w[o * C + c]! *= scale(Math.floor(c / d));
}

/** A calibrated HeSS file ranks each planted head first in its layer: both terms and the combined score. */
export function expectPlantedFirst(hess: HessFile, heads: ReadonlyMap<number, number>, label: string): void {
  const argmax = (row: number[]) => row.indexOf(Math.max(...row));
  const show = (row: number[]) => row.map((x) => x.toExponential(1)).join(' ');
  for (const [L, h] of heads) {
    console.info(
      `[${label}] layer ${L} head ${h}: camera ${show(hess.terms.camera[L]!)}; points ${show(hess.terms.pointCloud[L]!)}; ` +
        `scores ${show(hess.scores[L]!)}`,
    );
    expect(argmax(hess.terms.camera[L]!)).toBe(h);
    expect(argmax(hess.terms.pointCloud[L]!)).toBe(h);
    expect(argmax(hess.scores[L]!)).toBe(h);
  }
}
