/**
 * The contract between the VGGT aggregator and a global-attention implementation: dense ONNX attention
 * (model/trunk/attention-core.ts) and the WGSL sparse core (runtime/wgsl-attention.ts) both implement it.
 */
import type { Tensor } from 'onnxruntime-web';

/** Where the core is called from: which global block (for per-block/per-head budgets) and the frame layout. */
export interface AttentionContext {
  /** Global block index (0-based). */
  readonly block: number;
  /** Frames and tokens per frame (N = S·P). */
  readonly S: number;
  readonly P: number;
}

/** A pluggable global-attention implementation. */
export interface AttentionCore {
  /**
   * q, k, v `[N, H, d]` → o `[N, H, d]`, in the same location as the inputs. The caller owns (and disposes)
   * the inputs and the returned tensor.
   */
  run(q: Tensor, k: Tensor, v: Tensor, N: number, H: number, d: number, ctx: AttentionContext): Promise<Tensor>;
  /** Release sessions/buffers. */
  dispose(): Promise<void>;
}
