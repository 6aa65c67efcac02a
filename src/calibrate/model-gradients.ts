/**
 * What VGGT's and π³'s gradients share around the trunk's reverse mode: their common options, and opening the
 * trunk with those options (ORT, the checkpoint with `overrides` applied, the execution target). The heads, their
 * outputs and the seed gradients stay in each model's file (`gradients.ts`, `pi3-gradients.ts`).
 */
import { type ExecutionTarget, loadOrt, type Ort } from '../runtime/ort.js';
import type { TrunkConfig } from '../model/config.js';
import type { HeadWeights } from '../model/heads/heads-common.js';
import type { TrunkLayout } from '../model/trunk/aggregator.js';
import { TrunkGradients, type TrunkGradientOptions } from './trunk-gradients.js';

/** The options both models' gradients take (VggtGradients and Pi3Gradients). */
export interface ModelGradientsOptions extends TrunkGradientOptions {
  ort?: Ort;
  /** Replace some checkpoint tensors (by full name, PyTorch layout), e.g. to perturb or plant weights. */
  overrides?: ReadonlyMap<string, Float32Array>;
  signal?: AbortSignal;
}

/** The opened trunk and what the model's heads load with: the same ORT, weights and target. */
export interface OpenedTrunk {
  ort: Ort;
  /** The checkpoint with `overrides` applied (the heads must read through it too). */
  reader: HeadWeights;
  target: ExecutionTarget;
  trunk: TrunkGradients;
}

/**
 * The trunk's reverse mode for one model on `opts.target` (default the wasm EP), reading `weights` with
 * `opts.overrides` applied.
 *
 * @example
 * const { ort, reader, target, trunk } = await openTrunkGradients(st, config, pi3Layout(config), opts);
 */
export async function openTrunkGradients(
  weights: HeadWeights,
  config: TrunkConfig,
  layout: TrunkLayout,
  opts: ModelGradientsOptions,
): Promise<OpenedTrunk> {
  const ort = opts.ort ?? (await loadOrt());
  const over = opts.overrides;
  const reader: HeadWeights = {
    tensors: weights.tensors,
    read: async (name: string) => over?.get(name) ?? (await weights.read(name)),
  };
  const target = opts.target ?? { ep: 'wasm' as const };
  const trunk = await TrunkGradients.create(reader, config, layout, { ...opts, target, ort });
  return { ort, reader, target, trunk };
}
