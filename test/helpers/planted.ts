// A "planted-sensitivity" VGGT or π³: the tiny fixture with, in every global layer, some heads made to matter much more
// than the others (their output-projection columns scaled up, the rest scaled down).
// The HeSS scores such a model deserves are known: a head's Fisher trace grows with the square of its output scale.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { openSafetensors, bytesSource } from '../../src/model/safetensors.js';
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
      // proj.weight is [out C, in C]; input column c belongs to head ⌊c / d⌋.
      for (let o = 0; o < C; o++) for (let c = 0; c < C; c++) data[o * C + c] *= s[Math.floor(c / d)];
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
