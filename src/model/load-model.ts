/**
 * Load whichever model a checkpoint holds: VGGT or π³, told apart by its tensor names (and config.json's `model`
 * field where there is one).
 */
import { HessError } from '../errors.js';
import type { TensorShapes, VggtConfigOverride } from './config.js';
import { type ModelSource, openSource } from './model-io.js';
import { isPi3Checkpoint, type Pi3ConfigOverride } from './pi3/config.js';
import { Pi3 } from './pi3/model.js';
import { Vggt, type VggtLoadOptions } from './vggt/model.js';

/** The models {@link loadModel} knows. */
export type ModelKind = 'vggt' | 'pi3';

/** {@link Vggt.load}'s options (π³ ignores `heads`); `config` may hold either model's fields. */
export interface LoadModelOptions extends Omit<VggtLoadOptions, 'config'> {
  config?: VggtConfigOverride & Pi3ConfigOverride;
}

/**
 * Which model `tensors` are: π³ (`encoder.*`, `decoder.*`, `register_token`) or VGGT (`aggregator.*`). A
 * config.json `model` field ('vggt' / 'pi3') must agree with the tensors. Throws BAD_CHECKPOINT for neither.
 *
 * @example
 * detectModelKind(st.tensors); // 'pi3'
 */
export function detectModelKind(tensors: TensorShapes, config?: { model?: unknown }): ModelKind {
  const kind: ModelKind | null = isPi3Checkpoint(tensors)
    ? 'pi3'
    : tensors.has('aggregator.camera_token')
      ? 'vggt'
      : null;
  if (!kind) {
    throw new HessError(
      'BAD_CHECKPOINT',
      'the checkpoint is neither VGGT (aggregator.*) nor π³ (encoder.*, decoder.*, register_token)',
      'use a VGGT (facebook/VGGT-1B) or π³ (yyfz233/Pi3) model.safetensors',
    );
  }
  const said = config?.model;
  if (said !== undefined && said !== kind) {
    throw new HessError(
      'BAD_CHECKPOINT',
      `config.json says model ${JSON.stringify(said)} but the tensors are ${kind === 'pi3' ? 'π³' : 'VGGT'}'s`,
      'fix or remove the model field of config.json',
    );
  }
  return kind;
}

/**
 * Load a VGGT or π³ checkpoint (detected from its tensor names) with the model's own `load`. The checkpoint's header
 * is read once to decide (a path or URL is opened again by the model's load: one more header read).
 *
 * @example
 * const model = await loadModel('/models/pi3/');
 * if (model.kind === 'pi3') console.log((await model.run(images)).cameraPoses);
 */
export async function loadModel(source: ModelSource, opts: LoadModelOptions = {}): Promise<Vggt | Pi3> {
  const { st, override } = await openSource(source, opts);
  let kind: ModelKind;
  try {
    kind = detectModelKind(st.tensors, { ...override, ...opts.config } as { model?: unknown });
  } finally {
    // A ByteSource given by the caller stays open for the model's load; what we opened we close.
    const given =
      typeof source === 'object' &&
      !(source instanceof Uint8Array) &&
      !(typeof Blob !== 'undefined' && source instanceof Blob) &&
      !(source instanceof URL);
    if (!given) await st.close();
  }
  if (kind === 'pi3') {
    const { heads: _heads, ...rest } = opts;
    return Pi3.load(source, rest);
  }
  return Vggt.load(source, opts);
}
