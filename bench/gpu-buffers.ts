// Bytes of GPU buffers created on a device: createBuffer/destroy wrapped on it (ORT's WebGPU EP allocates on the
// same device, and its buffer cache counts as live). Shared by the benches and the estimate-vs-measured test; it lives
// in bench/ because bench/ may not import test/.
import type { HessDevice } from '../src/gpu/device.js';

/** Live and peak bytes of the buffers created on a device since it was first tracked. */
export interface GpuBufferTracker {
  /** Bytes of buffers created and not yet destroyed. */
  readonly live: number;
  /** The highest `live` since tracking began or since the last `resetPeak()`. */
  readonly peak: number;
  /** Bytes of every buffer created since tracking began (destroyed ones included). */
  readonly created: number;
  /** Start a new peak from the bytes live now. */
  resetPeak(): void;
}

const trackers = new WeakMap<GPUDevice, GpuBufferTracker>();

/**
 * Wrap `gpu.device.createBuffer` (and each buffer's `destroy`, counted once) to track live/peak bytes. Tracking the
 * same device again returns the same tracker, so the wrapper is never stacked.
 */
export function trackGpuBuffers(gpu: HessDevice): GpuBufferTracker {
  const dev = gpu.device;
  const known = trackers.get(dev);
  if (known) return known;
  let live = 0;
  let peak = 0;
  let created = 0;
  const tracker: GpuBufferTracker = {
    get live() {
      return live;
    },
    get peak() {
      return peak;
    },
    get created() {
      return created;
    },
    resetPeak() {
      peak = live;
    },
  };
  const create = dev.createBuffer.bind(dev);
  dev.createBuffer = (desc: GPUBufferDescriptor) => {
    const buf = create(desc);
    const size = desc.size;
    live += size;
    created += size;
    peak = Math.max(peak, live);
    const destroy = buf.destroy.bind(buf);
    let gone = false;
    buf.destroy = () => {
      if (!gone) {
        gone = true;
        live -= size;
      }
      return destroy();
    };
    return buf;
  };
  trackers.set(dev, tracker);
  return tracker;
}
