/**
 * Typed errors. Every error the SDK throws on purpose is a {@link HessError} with a stable `code` that callers
 * can switch on and a `fix` sentence that tells a person what to do about it.
 *
 * @example
 * try { await createDevice(); }
 * catch (e) { if (e instanceof HessError && e.code === 'NO_ADAPTER') console.log(e.fix); }
 */
export type HessErrorCode =
  // GPU / environment
  | 'NO_WEBGPU'
  | 'NO_ADAPTER'
  | 'NO_SHADER_F16'
  | 'LIMIT_TOO_SMALL'
  | 'OUT_OF_MEMORY'
  | 'DEVICE_LOST'
  | 'GPU_ERROR'
  | 'WASM_UNSUPPORTED'
  // inputs
  | 'INVALID_ARGUMENT'
  | 'SHAPE_MISMATCH'
  | 'EMPTY_ROW'
  // files and formats
  | 'BAD_CHECKPOINT'
  | 'BAD_HESS_FILE'
  | 'BAD_DATASET'
  | 'BAD_IMAGE'
  | 'IO_ERROR'
  // runtime
  | 'ORT_ERROR'
  | 'ABORTED'
  | 'DISPOSED'
  | 'WORKER_ERROR';

export class HessError extends Error {
  override readonly name = 'HessError';
  /** Stable machine-readable code. */
  readonly code: HessErrorCode;
  /** What to do about it, in one sentence. */
  readonly fix: string;

  constructor(code: HessErrorCode, message: string, fix = '', options?: { cause?: unknown }) {
    super(fix ? `${message} — ${fix}` : message, options);
    this.code = code;
    this.fix = fix;
  }
}

/** Throw INVALID_ARGUMENT unless `cond` holds. */
export function check(cond: unknown, message: string, fix = ''): asserts cond {
  if (!cond) throw new HessError('INVALID_ARGUMENT', message, fix);
}

/** Throw ABORTED if the signal has fired (call at every await point of long work). */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new HessError('ABORTED', 'operation aborted', '', { cause: signal.reason });
}
