/**
 * Frame chunks of a per-frame head (VGGT's DPT heads, π³'s heads): how many frames one session run takes, sized
 * from a byte budget on one frame's largest intermediate, and the loop that feeds each chunk's rows of the head
 * inputs (host views or GPU span copies) to a run.
 */
import type { Tensor } from 'onnxruntime-web';
import { check, HessError, throwIfAborted } from '../../errors.js';
import type { ExecutionTarget, Ort } from '../../runtime/ort.js';
import type { ElemType } from '../graph/ops.js';
import { gatherSpans, type HeadInput, type RunTensor } from '../trunk/head-inputs.js';

/** A head's frame-chunk setting: a fixed frame count, or a byte budget. */
export interface FrameChunking {
  readonly frames?: number;
  readonly bytes: number;
}

/**
 * The `framesChunk` / `chunkBytes` options checked, with the default budget: on WebGPU the device's
 * `maxStorageBufferBindingSize` (and `maxBufferSize`), at most 1 GiB; on the wasm EP 256 MiB.
 */
export function frameChunking(
  target: ExecutionTarget,
  opts: { framesChunk?: number; chunkBytes?: number },
): FrameChunking {
  const frames = opts.framesChunk;
  check(
    frames === undefined || (Number.isInteger(frames) && frames >= 1),
    `framesChunk must be a positive integer, got ${frames}`,
  );
  const limits = target.ep === 'webgpu' ? target.gpu.limits : null;
  const bytes =
    opts.chunkBytes ??
    (limits ? Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, 2 ** 30) : 256 * 2 ** 20);
  check(Number.isFinite(bytes) && bytes > 0, `chunkBytes must be a positive number, got ${bytes}`);
  return { frames, bytes };
}

/** Frames per run: the fixed count, else as many frames of `frameBytes` as the budget holds (at least 1). */
export function framesPerRun(c: FrameChunking, frameBytes: number): number {
  if (c.frames) return c.frames;
  return Math.max(1, Math.floor(c.bytes / frameBytes));
}

/**
 * On WebGPU, refuse a frame whose largest intermediate (`frameBytes`) cannot be one storage binding: no chunk size
 * would help. `what` names the head and the size ("the depth head at 70×98").
 */
export function checkFrameFits(target: ExecutionTarget, frameBytes: number, what: string): void {
  if (target.ep !== 'webgpu') return;
  const limit = target.gpu.limits.maxStorageBufferBindingSize;
  if (frameBytes > limit) {
    throw new HessError(
      'LIMIT_TOO_SMALL',
      `one frame of ${what} needs a ${frameBytes}-byte buffer, over this device's maxStorageBufferBindingSize ${limit}`,
      "use a device with a larger maxStorageBufferBindingSize (createDevice asks for the adapter's maximum) or smaller images",
    );
  }
}

/**
 * Run `run` on consecutive chunks of `chunk` frames of S: each of `inputs` (`[S, rows, width]`) gathered to
 * `[n, rows, width]` of element type `type` for frames `[s0, s0 + n)`, freed after the run. `signal` is checked
 * before each chunk.
 */
export async function forEachFrameChunk(
  ort: Ort,
  target: ExecutionTarget,
  inputs: readonly HeadInput[],
  shape: { S: number; rows: number; width: number },
  chunk: number,
  type: ElemType,
  signal: AbortSignal | undefined,
  run: (spans: Tensor[], s0: number, n: number) => Promise<void>,
): Promise<void> {
  const { S, rows, width } = shape;
  const frame = rows * width;
  for (let s0 = 0; s0 < S; s0 += chunk) {
    throwIfAborted(signal);
    const n = Math.min(chunk, S - s0);
    const spans: RunTensor[] = [];
    try {
      for (const x of inputs) spans.push(gatherSpans(ort, target, x, [s0 * frame], n * frame, [n, rows, width], type));
      await run(
        spans.map((t) => t.tensor),
        s0,
        n,
      );
    } finally {
      for (const t of spans) t.dispose();
    }
  }
}
