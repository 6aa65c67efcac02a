// A "planted-sensitivity" VGGT: the tiny fixture with, in every global layer, some heads made to matter much more
// than the others (their output-projection columns scaled up, the rest scaled down).
// The HeSS scores such a model deserves are known: a head's Fisher trace grows with the square of its output scale.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { openSafetensors, bytesSource } from '../../src/model/safetensors';
import { buildSafetensors, type Entry } from '../cpu/model/st-helpers';
import { FIXTURE } from '../fixtures/vggt-tiny';
import { PI3_FIXTURE } from '../fixtures/pi3-tiny';
import { plantedHess } from './hess';
import type { HessFile } from '../../src/hess/hess-file';

export interface PlantedModel {
  /** model.safetensors bytes (pass with the fixture's config.json override). */
  bytes: Uint8Array;
  /** Per global layer, per head output scale. */
  scales: number[][];
  /** HeSS scores proportional to scale². */
  hess: HessFile;
}

export async function plantedModel(rand: () => number, opts: { strong?: number; weak?: number; sensitivePerLayer?: number } = {}): Promise<PlantedModel> {
  const { strong = 3, weak = 0.05, sensitivePerLayer = 1 } = opts;
  const st = await openSafetensors(bytesSource(new Uint8Array(await readFile(resolve(FIXTURE, 'model.safetensors')))));
  const C = st.tensors.get('aggregator.camera_token')!.shape.at(-1)!;
  const d = st.tensors.get('aggregator.global_blocks.0.attn.q_norm.weight')!.shape[0];
  const H = C / d;
  let depth = 0;
  while (st.tensors.has(`aggregator.global_blocks.${depth}.attn.proj.weight`)) depth++;
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
    const m = /^aggregator\.global_blocks\.(\d+)\.attn\.proj\.weight$/.exec(name);
    if (m) {
      const s = scales[Number(m[1])];
      // proj.weight is [out C, in C]; input column c belongs to head ⌊c / d⌋.
      for (let o = 0; o < C; o++) for (let c = 0; c < C; c++) data[o * C + c] *= s[Math.floor(c / d)];
    }
    entries.push({ name, dtype: 'F32', shape: [...info.shape], bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  }
  return { bytes: buildSafetensors(entries), scales, hess: plantedHess(scales.map((r) => r.map((x) => x * x))) };
}

/**
 * The π³ twin of {@link plantedModel}: the pi3-tiny fixture with, in each of its 18 global layers (the odd decoder
 * blocks `decoder.{2ℓ+1}`), some heads' output-projection columns scaled up and the rest down.
 */
export async function plantedPi3Model(rand: () => number, opts: { strong?: number; weak?: number; sensitivePerLayer?: number } = {}): Promise<PlantedModel> {
  const { strong = 3, weak = 0.05, sensitivePerLayer = 1 } = opts;
  const st = await openSafetensors(bytesSource(new Uint8Array(await readFile(resolve(PI3_FIXTURE, 'model.safetensors')))));
  const C = st.tensors.get('register_token')!.shape.at(-1)!;
  const d = st.tensors.get('decoder.1.attn.q_norm.weight')!.shape[0];
  const H = C / d;
  let depth = 0;
  while (st.tensors.has(`decoder.${2 * depth + 1}.attn.proj.weight`)) depth++;
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
    const m = /^decoder\.(\d+)\.attn\.proj\.weight$/.exec(name);
    if (m && Number(m[1]) % 2 === 1) {
      const s = scales[(Number(m[1]) - 1) / 2];
      for (let o = 0; o < C; o++) for (let c = 0; c < C; c++) data[o * C + c] *= s[Math.floor(c / d)];
    }
    entries.push({ name, dtype: 'F32', shape: [...info.shape], bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  }
  const hess = { ...plantedHess(scales.map((r) => r.map((x) => x * x)), 'pi3-planted'), model: 'pi3' as const };
  return { bytes: buildSafetensors(entries), scales, hess };
}
