/**
 * The π³ (Pi3) prediction heads: three transformer decoders (point, conf, camera) over the decoder's last two
 * outputs, then the point head (linear → 14×14×3 per patch → pixel shuffle → local points), the conf head
 * (linear → 14×14×1 → pixel shuffle, raw logits) and the camera head (residual MLPs → mean over patches → MLPs →
 * translation + SVD-orthogonalised rotation → 4×4 camera-to-world). World points = pose · local points.
 *
 * `hidden`, what {@link Pi3Heads.run} takes, is the reference's `decode()` output (yyfz/Pi3 `pi3/models/pi3.py`):
 * `torch.cat([out34, out35], dim=-1)`, `[S, R + P, 2·decDim]` row-major, where out34 / out35 are the outputs of
 * decoder blocks 34 and 35 (the last two of 36; the global block 35's `[1, S·T, C]` reshaped back per frame).
 * Channels `[0, decDim)` are block 34's, `[decDim, 2·decDim)` block 35's. Tokens per frame: the R = 5 register
 * tokens first, then the P = (H/14)·(W/14) patches row-major (patch (r, c) at R + r·(W/14) + c). Frames in input
 * order. The head decoders attend over all R + P tokens of a frame (registers included; RoPE position (0, 0) for
 * registers, (r + 1, c + 1) for patches); the point, conf and camera outputs read the patches only.
 */
import type { HeadInput } from '../vggt/head-inputs';
import type { HeadWeights } from '../vggt/heads-common';
import type { ExecutionTarget, Ort } from '../../runtime/ort';
import { HessError } from '../../errors';

/** What {@link Pi3Heads.run} returns, all float32, row-major. */
export interface Pi3HeadOutputs {
  /** World points `[S, H, W, 3]`: `cameraPoses[s] · (localPoints, 1)`. */
  points: Float32Array;
  /** Camera-frame points `[S, H, W, 3]`: `(x·z, y·z, z)`, `z = exp(raw)`. */
  localPoints: Float32Array;
  /** Confidence `[S, H, W]`: raw logits, as the reference returns them (no activation). */
  conf: Float32Array;
  /** Camera-to-world poses `[S, 4, 4]`: rotation (orthogonalised, det +1) and translation, last row (0, 0, 0, 1). */
  cameraPoses: Float32Array;
}

/** What the heads need beyond the weight shapes (widths and depths are read from the checkpoint). */
export interface Pi3HeadsConfig {
  /** Attention heads of the three head decoders (16 in yyfz233/Pi3, 4 in the pi3-tiny fixture). */
  heads: number;
  /** Register tokens before the patches of each frame (5). */
  registers: number;
  /** Patch size (14). */
  patchSize: number;
  /** RoPE base frequency (100). */
  ropeFreq: number;
}

/** Options beyond the architecture. */
export interface Pi3HeadsOptions {
  /** Frames per session run. Default: as many as keep the largest intermediate of a run under `chunkBytes`. */
  framesChunk?: number;
  /**
   * Byte budget of the largest single intermediate of one run. Default: on WebGPU the device's
   * `maxStorageBufferBindingSize` (and `maxBufferSize`), at most 1 GiB; on the wasm EP 256 MiB.
   */
  chunkBytes?: number;
  /** An already loaded onnxruntime-web. */
  ort?: Ort;
  signal?: AbortSignal;
}

/**
 * The π³ heads: one session per head (point, conf, camera), weights as graph inputs uploaded once, frames run in
 * chunks sized from a byte budget; the 3×3 SVD of the camera head runs on the host in float64.
 *
 * @example
 * const heads = await Pi3Heads.create(st, { heads: 16, registers: 5, patchSize: 14, ropeFreq: 100 }, { ep: 'wasm' });
 * const { points, localPoints, conf, cameraPoses } = await heads.run(hidden, S, H, W);
 */
export class Pi3Heads {
  private constructor() {}

  static async create(
    _weights: HeadWeights, _config: Pi3HeadsConfig, _target: ExecutionTarget, _opts: Pi3HeadsOptions = {},
  ): Promise<Pi3Heads> {
    throw new HessError('INVALID_ARGUMENT', 'Pi3Heads is not implemented yet', 'wait for the heads branch');
  }

  /** Run on `hidden` `[S, R + P, 2·decDim]` (see the file comment) for images of H×W. */
  async run(_hidden: HeadInput, _S: number, _H: number, _W: number, _opts: { signal?: AbortSignal } = {}): Promise<Pi3HeadOutputs> {
    throw new HessError('INVALID_ARGUMENT', 'Pi3Heads is not implemented yet', 'wait for the heads branch');
  }

  /** Release the sessions and the weights. */
  async dispose(): Promise<void> {}
}
