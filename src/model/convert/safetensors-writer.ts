/**
 * Writing safetensors files (Node, Deno or Bun): float32 → float16 with an overflow check, and a streaming writer
 * that takes one tensor at a time, so a converted checkpoint is never held in memory whole.
 */
import { f32ToF16Bits } from '../../attention/f16.js';
import { HessError, check } from '../../errors.js';
import { type Fs, nodeFs } from '../../io/node-fs.js';

type FileHandle = Awaited<ReturnType<Fs['open']>>;

/** Little-endian F16 bytes of `a`; throws when a finite value overflows (it would become ±Infinity). */
export function toF16Bytes(a: Float32Array, name = 'tensor'): Uint8Array {
  const out = new Uint8Array(a.length * 2);
  for (let i = 0; i < a.length; i++) {
    const h = f32ToF16Bits(a[i]);
    if ((h & 0x7fff) === 0x7c00 && Number.isFinite(a[i])) {
      throw new HessError(
        'INVALID_ARGUMENT',
        `${name}[${i}] = ${a[i]} does not fit float16 (max 65504)`,
        'convert without --fp16',
      );
    }
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

function f32Bytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(4 * i, a[i], true); // little-endian whatever the host
  return out;
}

/** One tensor to write: its name, output dtype and shape (the header is written before any data). */
export interface TensorSpec {
  name: string;
  dtype: 'F32' | 'F16';
  shape: readonly number[];
}

/**
 * Streaming safetensors writer: the header (all names, dtypes, shapes, offsets) goes first, then each tensor's
 * bytes in the declared order, one `write` call at a time, so memory stays at one tensor.
 *
 * @example
 * const w = await SafetensorsWriter.create('out.safetensors', [{ name: 'a', dtype: 'F32', shape: [2] }]);
 * await w.write('a', new Float32Array([1, 2]));
 * await w.close();
 */
export class SafetensorsWriter {
  private next = 0;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly specs: readonly TensorSpec[],
    private readonly offsets: number[],
    private readonly dataStart: number,
    private readonly path: string,
    private readonly temp: string,
  ) {}

  /** Create `path` and write the header; `metadata` becomes `__metadata__` (strings only). */
  static async create(
    path: string,
    specs: readonly TensorSpec[],
    metadata: Record<string, string> = {},
  ): Promise<SafetensorsWriter> {
    const names = new Set<string>();
    const header: Record<string, unknown> = {};
    if (Object.keys(metadata).length) header.__metadata__ = metadata;
    const offsets: number[] = [];
    let off = 0;
    for (const s of specs) {
      check(!names.has(s.name) && s.name !== '__metadata__', `duplicate or reserved tensor name ${s.name}`);
      check(
        s.shape.every((d) => Number.isSafeInteger(d) && d >= 0),
        `${s.name}: bad shape [${s.shape.join(', ')}]`,
      );
      names.add(s.name);
      const bytes = s.shape.reduce((a, d) => a * d, 1) * (s.dtype === 'F32' ? 4 : 2);
      header[s.name] = { dtype: s.dtype, shape: [...s.shape], data_offsets: [off, off + bytes] };
      offsets.push(off);
      off += bytes;
    }
    offsets.push(off);
    let json = new TextEncoder().encode(JSON.stringify(header));
    // Pad with spaces so the data section starts 8-byte aligned (as the Rust writer does).
    const padded = Math.ceil(json.length / 8) * 8;
    if (padded !== json.length) {
      const p = new Uint8Array(padded).fill(0x20);
      p.set(json);
      json = p;
    }
    const { fs } = await nodeFs('convert');
    // Written under a temporary sibling name and renamed by close(): a failed or killed conversion never leaves
    // a truncated model.safetensors where the finished one belongs.
    const temp = `${path}.${Math.random().toString(36).slice(2, 10)}.partial`;
    let fh: FileHandle;
    try {
      fh = await fs.open(temp, 'wx');
    } catch (e) {
      throw new HessError(
        'IO_ERROR',
        `cannot create ${path}: ${String((e as Error)?.message ?? e)}`,
        'check the output folder',
        { cause: e },
      );
    }
    const w = new SafetensorsWriter(fh, specs, offsets, 8 + json.length, path, temp);
    try {
      const len = new Uint8Array(8);
      new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
      await w.writeAll(len, 0);
      await w.writeAll(json, 8);
    } catch (e) {
      await w.abort();
      throw e;
    }
    return w;
  }

  private async writeAll(bytes: Uint8Array, at: number): Promise<void> {
    let done = 0;
    try {
      while (done < bytes.length) {
        const { bytesWritten } = await this.fh.write(bytes, done, bytes.length - done, at + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw new HessError(
        'IO_ERROR',
        `cannot write ${this.path}: ${String((e as Error)?.message ?? e)}`,
        'check free disk space',
        { cause: e },
      );
    }
  }

  /** Write the next tensor (in header order), converting to its declared dtype. */
  async write(name: string, data: Float32Array): Promise<void> {
    check(!this.closed, 'SafetensorsWriter.write after close()');
    const i = this.next;
    const s = this.specs[i];
    check(s !== undefined && s.name === name, `expected tensor ${s?.name ?? '(none: all written)'}, got ${name}`);
    const bytes = s.dtype === 'F16' ? toF16Bytes(data, name) : f32Bytes(data);
    check(
      bytes.length === this.offsets[i + 1] - this.offsets[i],
      `${name}: ${data.length} values do not match shape [${s.shape.join(', ')}]`,
    );
    await this.writeAll(bytes, this.dataStart + this.offsets[i]);
    this.next++;
  }

  /**
   * Finish: throws (and removes the partial file) if tensors are missing, else moves the complete file to its
   * path. After a failed write call {@link abort} instead, so the write's own error is the one reported.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.next !== this.specs.length) {
      await this.abort();
      check(false, `only ${this.next} of ${this.specs.length} tensors were written`);
    }
    this.closed = true;
    const { fs } = await nodeFs('convert');
    try {
      await this.fh.close();
      await fs.rename(this.temp, this.path);
    } catch (e) {
      await fs.rm(this.temp, { force: true }).catch(() => {});
      throw new HessError(
        'IO_ERROR',
        `cannot finish ${this.path}: ${String((e as Error)?.message ?? e)}`,
        'check the output folder',
        { cause: e },
      );
    }
  }

  /** Give up: close and delete the partial file (nothing appears at the path). Never throws. */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => {});
    const { fs } = await nodeFs('convert');
    await fs.rm(this.temp, { force: true }).catch(() => {});
  }
}
