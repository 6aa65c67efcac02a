/**
 * The config.json `hess-vggt convert` writes: the architecture in the snake_case keys each model's config reader
 * takes as an override (`inferVggtConfig`, `inferPi3Config`), plus `model` ('vggt' / 'pi3'), which
 * `detectModelKind` checks against the tensors, so a converted folder says which model it holds.
 */
import type { VggtConfig } from '../config.js';
import type { Pi3Config } from '../pi3/config.js';

/**
 * The snake_case config.json of a converted model (read back by `inferVggtConfig` or `inferPi3Config` as an
 * override); `extra` is appended (e.g. `weights_dtype`).
 *
 * @example
 * JSON.stringify(configJson(inferPi3Config(st.tensors, json))); // {"model":"pi3","encoder_dim":1024,…}
 */
export function configJson(cfg: VggtConfig | Pi3Config, extra: Record<string, unknown> = {}): Record<string, unknown> {
  if ('model' in cfg && cfg.model === 'pi3') return { ...pi3Json(cfg), assumed: [...cfg.assumed], ...extra };
  const c = cfg as VggtConfig;
  const dpt = c.depthHead ?? c.pointHead;
  return {
    model: 'vggt',
    embed_dim: c.embedDim,
    num_heads: c.numHeads,
    depth: c.depth,
    dino_depth: c.dino.depth,
    dino_heads: c.dino.heads,
    dino_img_size: c.dino.imgSize,
    patch_size: c.patchSize,
    num_register_tokens: c.numRegisterTokens,
    ...(c.camera ? { camera_heads: c.camera.heads, camera_trunk_depth: c.camera.trunkDepth } : {}),
    ...(dpt ? { dpt_features: dpt.features, dpt_out_channels: [...dpt.outChannels] } : {}),
    patch_start_idx: c.patchStartIdx,
    mlp_hidden_dim: c.mlpHiddenDim,
    heads: { camera: c.camera !== null, depth: c.depthHead !== null, point: c.pointHead !== null },
    assumed: [...c.assumed],
    ...extra,
  };
}

/** π³'s keys, as in the yyfz233/Pi3 layout of the pi3-tiny fixture's config.json (`inferPi3Config` reads them). */
function pi3Json(c: Pi3Config): Record<string, unknown> {
  return {
    model: 'pi3',
    encoder_dim: c.dino.dim,
    encoder_depth: c.dino.depth,
    encoder_heads: c.dino.heads,
    encoder_registers: c.dino.numRegisters,
    dec_dim: c.embedDim,
    dec_heads: c.numHeads,
    dec_depth: c.decoderDepth,
    register_tokens: c.numRegisterTokens,
    head_dec_heads: c.headHeads,
    rope_freq: c.ropeBase,
    patch_size: c.patchSize,
  };
}
