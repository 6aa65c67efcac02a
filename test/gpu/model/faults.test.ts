import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { createDevice, getGpu, type HessDevice } from '../../../src/gpu/device.js';
import { Pi3, type Pi3Result } from '../../../src/model/pi3/model.js';
import { Vggt, type VggtResult } from '../../../src/model/vggt/model.js';
import { relError } from '../../helpers/random.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny.js';
import { FIXTURE, loadFixture } from '../../../bench/vggt-tiny.js';
import { within } from './bounded.js';

// Faults on WebGPU (Dawn on a software Vulkan), for VGGT and π³ (the same model-io code): a run that cannot fit is
// refused before allocating; a failure inside a run (an invalid GPU allocation) becomes a typed error from the GPU
// error scopes; in every case the next normal run answers (within a generous bound, never hanging) with the
// reference outputs. The device is created WITHOUT raised limits: WebGPU's defaults (128 MiB storage bindings)
// make "too large" cheap.

type Images = { data: Float32Array; S: number; H: number; W: number };
type RunOptions = { maxGpuBytes?: number; onProgress?: (e: { stage: string }) => void };
interface Model<R> {
  run(images: Images, opts?: RunOptions): Promise<R>;
  estimate(shape: { S: number; H: number; W: number }): { gpuBytes: number };
  dispose(): Promise<void>;
}

/** One model under test: how to load it and its fixture, and which outputs must match which reference. */
interface Subject<R> {
  name: string;
  available: boolean;
  load(gpu: HessDevice): Promise<Model<R>>;
  fixture(): Promise<{ S: number; H: number; W: number; ref(name: string): Promise<Float64Array> }>;
  /** Reference tensor name → the matching output of a run. */
  outputs: Record<string, (r: R) => ArrayLike<number>>;
  /** What an over-budget refusal must say, where the model's message is pinned. */
  oomMessage?: RegExp;
}
const subject = <R>(s: Subject<R>) => s as Subject<unknown>;

/** The error a run fails with (bounded: a hang fails too). */
const failure = (run: Promise<unknown>, what: string): Promise<HessError> =>
  within(run, what).then(
    () => {
      throw new Error(`${what} did not fail`);
    },
    (e: HessError) => e,
  );

const SUBJECTS = [
  subject<VggtResult>({
    name: 'Vggt',
    available: true,
    load: (gpu) => Vggt.load(FIXTURE, { device: gpu }),
    fixture: loadFixture,
    outputs: { depth: (r) => r.depth!, pose_enc: (r) => r.poseEnc!, world_points: (r) => r.worldPoints! },
    oomMessage: /at most 2 frames fit|not even one frame fits/,
  }),
  subject<Pi3Result>({
    name: 'Pi3',
    available: havePi3Fixture,
    load: (gpu) => Pi3.load(PI3_FIXTURE, { device: gpu }),
    fixture: loadPi3Fixture,
    outputs: { points: (r) => r.points, camera_poses: (r) => r.cameraPoses },
  }),
];

for (const m of SUBJECTS) {
  describe.skipIf(!m.available)(`${m.name} on WebGPU: failed runs are typed errors and the model stays usable`, () => {
    let model: Model<unknown>;
    let gpu: HessDevice;
    let small: Images;
    const refs = new Map<string, Float64Array>();
    const expectReference = (r: unknown) => {
      for (const [k, out] of Object.entries(m.outputs)) expect(relError(out(r), refs.get(k)!), k).toBeLessThan(1e-4);
    };

    beforeAll(async () => {
      const adapter = (await (await getGpu())!.requestAdapter())!;
      gpu = await createDevice({ device: await adapter.requestDevice() });
      const fx = await m.fixture();
      small = { data: Float32Array.from(await fx.ref('images')), S: fx.S, H: fx.H, W: fx.W };
      for (const k of Object.keys(m.outputs)) refs.set(k, await fx.ref(k));
      model = await m.load(gpu);
    });
    afterAll(async () => model?.dispose());

    it.runIf(m.name === 'Vggt')(
      'a run whose largest buffer passes the binding limit is LIMIT_TOO_SMALL before allocating, naming the largest S',
      async () => {
        expect(gpu.limits.maxStorageBufferBindingSize).toBeLessThanOrEqual(2 ** 27);
        // No score tensors any more (flash kernels; chunked segments): what passes a 128 MiB binding first is one
        // frame of a DPT head's maps at image size, [1, 16, 1456, 1456] f32 = 136 MB (dptFrameBytes)
        const big = { data: new Float32Array(2 * 3 * 1456 * 1456).fill(0.5), S: 2, H: 1456, W: 1456 };
        const stages: string[] = [];
        const err = await failure(model.run(big, { onProgress: (e) => stages.push(e.stage) }), 'over-limit run');
        expect(err).toBeInstanceOf(HessError);
        expect(err.code).toBe('LIMIT_TOO_SMALL');
        expect(err.message).toMatch(/full-res maps.*not even one frame fits at 1456×1456/);
        expect(stages).not.toContain('aggregator');
        expectReference(await within(model.run(small), 'normal run after LIMIT_TOO_SMALL'));
      },
    );

    it('a run over maxGpuBytes is OUT_OF_MEMORY before allocating; the next normal run works', async () => {
      const need = model.estimate({ S: small.S, H: small.H, W: small.W }).gpuBytes;
      const stages: string[] = [];
      const err = await failure(
        model.run(small, { maxGpuBytes: need - 1, onProgress: (e) => stages.push(e.stage) }),
        'over-budget run',
      );
      expect(err).toBeInstanceOf(HessError);
      expect(err.code).toBe('OUT_OF_MEMORY');
      if (m.oomMessage) expect(err.message).toMatch(m.oomMessage);
      expect(stages).not.toContain('aggregator');
      expectReference(await within(model.run(small, { maxGpuBytes: need }), 'normal run after OUT_OF_MEMORY'));
    });

    it('an allocation that fails inside a run is a typed GPU error (error scopes); the sessions are rebuilt and the next normal run works', async () => {
      const dev = gpu.device;
      const create = dev.createBuffer.bind(dev);
      let injected = 0;
      // Fail the first attention-output allocation of the run: a size over maxBufferSize is a validation error that
      // only an error scope reports (the buffer comes back invalid, nothing throws).
      dev.createBuffer = ((d: GPUBufferDescriptor) => {
        if (injected === 0 && d.label === 'attention out') {
          injected++;
          return create({ ...d, size: dev.limits.maxBufferSize + 4 });
        }
        return create(d);
      }) as typeof dev.createBuffer;
      try {
        const err = await failure(model.run(small), 'run with a failing allocation');
        expect(injected).toBe(1);
        expect(err).toBeInstanceOf(HessError);
        expect(['GPU_ERROR', 'OUT_OF_MEMORY']).toContain(err.code);
      } finally {
        dev.createBuffer = create;
      }
      expectReference(await within(model.run(small), 'normal run after a failed allocation'));
    });
  });
}
