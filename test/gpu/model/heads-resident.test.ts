import { describe, expect, it } from 'vitest';
import type { Tensor } from 'onnxruntime-web';
import { createStorageBuffer } from '../../../src/gpu/buffers.js';
import { CameraHead } from '../../../src/model/vggt/camera-head.js';
import { DptHead, type DptHeadSpec, dptFrameBytes, dptHeadInputsGraph } from '../../../src/model/vggt/dpt-head.js';
import { loadOrt, type Ort } from '../../../src/runtime/ort.js';
import { loadFixture } from '../../../bench/vggt-tiny.js';
import { testDevice } from '../../helpers/gpu.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';

// The heads on the WebGPU EP with their weights as GPU-resident inputs, fed host arrays or GPU tensors (what the
// aggregator could hand over without a readback). Kept to a few frames: lavapipe is slow.
const TOL = 1e-4;

async function countingOrt(): Promise<{ ort: Ort; sessions: () => number }> {
  const ort = await loadOrt();
  let n = 0;
  const create = (...a: Parameters<Ort['InferenceSession']['create']>) => {
    n++;
    return ort.InferenceSession.create(...a);
  };
  return { ort: { ...ort, InferenceSession: { create } } as unknown as Ort, sessions: () => n };
}

describe('VGGT heads on WebGPU with GPU-resident weights and inputs', () => {
  it('camera head: pose_enc from a Float32Array and from a GPU tensor [S, P, 2·dim]', async () => {
    const gpu = await testDevice();
    const fx = await loadFixture();
    const { ort, sessions } = await countingOrt();
    const head = await CameraHead.create(fx.model, fx.cfg.camera!, { ep: 'webgpu', gpu }, { ort });
    const ref = await fx.ref('pose_enc');
    const last = fx.layers.get(23)!;
    const buf = createStorageBuffer(gpu.device, last, 'test layer 23');
    const onGpu: Tensor = ort.Tensor.fromGpuBuffer(buf, {
      dataType: 'float32',
      dims: [fx.S, fx.P, 2 * fx.cfg.embedDim],
    });
    const eHost = relError(await head.run(last, fx.S), ref);
    const eGpu = relError(await head.run(onGpu, fx.S), ref);
    console.info(
      `[heads:webgpu] camera pose_enc relError host ${eHost.toExponential(3)}, GPU input ${eGpu.toExponential(3)}`,
    );
    expect(eHost).toBeLessThan(TOL);
    expect(eGpu).toBeLessThan(TOL);
    expect(sessions()).toBe(1);
    await head.dispose();
    buf.destroy();
  });

  it('depth head: GPU layers in 1-frame chunks match the reference; a second size reuses the session', async () => {
    const gpu = await testDevice();
    const fx = await loadFixture();
    const { ort, sessions } = await countingOrt();
    const spec: DptHeadSpec = {
      kind: 'depth',
      head: fx.cfg.depthHead!,
      dimIn: 2 * fx.cfg.embedDim,
      patchSize: fx.cfg.patchSize,
      patchStartIdx: fx.cfg.patchStartIdx,
    };
    const head = await DptHead.create(fx.model, spec, { ep: 'webgpu', gpu }, { ort, framesChunk: 1 });
    expect(sessions()).toBe(1);
    // the last two frames (offsets ≠ 0 in the GPU copies), uploaded as [2, P, 2·dim] GPU tensors
    const n = fx.P * spec.dimIn;
    const f0 = fx.S - 2;
    const buffers: GPUBuffer[] = [];
    const layers = new Map(
      [...fx.layers].map(([k, a]) => {
        const b = createStorageBuffer(gpu.device, a.subarray(f0 * n, (f0 + 2) * n), `test layer ${k}`);
        buffers.push(b);
        return [k, ort.Tensor.fromGpuBuffer(b, { dataType: 'float32', dims: [2, fx.P, spec.dimIn] }) as Tensor];
      }),
    );
    const got = await head.run(layers, 2, fx.H, fx.W);
    const HW = fx.H * fx.W;
    const eD = relError(got.values, (await fx.ref('depth')).subarray(f0 * HW, (f0 + 2) * HW));
    const eC = relError(got.conf, (await fx.ref('depth_conf')).subarray(f0 * HW, (f0 + 2) * HW));
    console.info(
      `[heads:webgpu] depth (frames ${f0}, ${f0 + 1}; GPU input, 1-frame chunks) relError ${eD.toExponential(3)}, conf ${eC.toExponential(3)}`,
    );
    expect(eD).toBeLessThan(TOL);
    expect(eC).toBeLessThan(TOL);

    // 42×56 on one random frame, against the same head on the wasm EP (checked against float64 in the cpu project)
    const [H2, W2] = [42, 56];
    const P2 = spec.patchStartIdx + (H2 / 14) * (W2 / 14);
    const rand = rng(freshSeed('heads-resident second size'));
    const small = new Map([4, 11, 17, 23].map((l) => [l, randn(P2 * spec.dimIn, rand)] as const));
    const r2 = await head.run(small, 1, H2, W2);
    expect(sessions()).toBe(1);
    const cpu = await DptHead.create(fx.model, spec, { ep: 'wasm' });
    const want = await cpu.run(small, 1, H2, W2);
    const e2 = relError(r2.values, want.values);
    console.info(`[heads:webgpu] depth at ${H2}×${W2} (same session) vs wasm EP: ${e2.toExponential(3)}`);
    expect(e2).toBeLessThan(TOL);
    expect(relError(r2.conf, want.conf)).toBeLessThan(TOL);
    await cpu.dispose();
    await head.dispose();
    for (const b of buffers) b.destroy();
  });

  it("frame chunks default to the device's binding limit; one frame over it is LIMIT_TOO_SMALL before any run", async () => {
    const gpu = await testDevice();
    const fx = await loadFixture();
    const spec: DptHeadSpec = {
      kind: 'depth',
      head: fx.cfg.depthHead!,
      dimIn: 2 * fx.cfg.embedDim,
      patchSize: fx.cfg.patchSize,
      patchStartIdx: fx.cfg.patchStartIdx,
    };
    const frame = dptFrameBytes(spec, fx.H, fx.W, dptHeadInputsGraph(fx.model.tensors, spec, 'depth_head').widths);
    // the same device, seen through smaller limits (only these two are read)
    const withLimits = (binding: number) => ({
      ep: 'webgpu' as const,
      gpu: {
        ...gpu,
        limits: { maxStorageBufferBindingSize: binding, maxBufferSize: gpu.limits.maxBufferSize } as GPUSupportedLimits,
      },
    });
    const roomy = await DptHead.create(fx.model, spec, withLimits(Math.floor(2.5 * frame)));
    expect(roomy.framesPerRun(fx.H, fx.W)).toBe(2);
    await roomy.dispose();
    const tight = await DptHead.create(fx.model, spec, withLimits(frame - 4));
    expect(tight.framesPerRun(fx.H, fx.W)).toBe(1);
    await expect(tight.run(fx.layers, fx.S, fx.H, fx.W)).rejects.toMatchObject({ code: 'LIMIT_TOO_SMALL' });
    await tight.dispose();
  });
});
