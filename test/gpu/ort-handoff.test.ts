import { describe, expect, it } from 'vitest';
import { createStorageBuffer, poisonBuffer, readF32 } from '../../src/gpu/buffers.js';
import { encodeMatmul } from '../../src/gpu/matmul.js';
import { Graph, tensorInit } from '../../src/onnx/builder.js';
import { createSession, loadOrt } from '../../src/runtime/ort.js';
import { testDevice } from '../helpers/gpu.js';
import { freshSeed, randomF32, relError, rng } from '../helpers/random.js';

// A tiny graph built in TS: Y = Relu(X·W + b) → Softmax over the last axis.
function tinyGraph(W: Float32Array, b: Float32Array, K: number, N: number): Uint8Array {
  const g = new Graph('tiny');
  const x = g.input('x', 'float32', ['M', K]);
  const w = g.constant(tensorInit(W, [K, N]), 'w');
  const bias = g.constant(tensorInit(b, [N]), 'b');
  const h = g.op('Relu', [g.op('Add', [g.op('MatMul', [x, w])[0], bias])[0]])[0];
  g.output(g.op('Softmax', [h], { axis: -1 })[0], 'float32', ['M', N], 'y');
  return g.toModel().model;
}

function refTiny(x: Float32Array, W: Float32Array, b: Float32Array, M: number, K: number, N: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    let mx = -Infinity;
    for (let j = 0; j < N; j++) {
      let s = b[j];
      for (let k = 0; k < K; k++) s += x[i * K + k] * W[k * N + j];
      y[i * N + j] = Math.max(s, 0);
      mx = Math.max(mx, y[i * N + j]);
    }
    let z = 0;
    for (let j = 0; j < N; j++) z += y[i * N + j] = Math.exp(y[i * N + j] - mx);
    for (let j = 0; j < N; j++) y[i * N + j] /= z;
  }
  return y;
}

describe('onnxruntime-web on our device: WebGPU EP output feeds our WGSL kernel with no CPU round trip', () => {
  it('ORT webgpu (gpu-buffer out) → WGSL matmul, and the same graph on the wasm EP, agree with float64', async () => {
    const gpu = await testDevice();
    const { device } = gpu;
    const ort = await loadOrt();
    const rand = rng(freshSeed('ort-handoff'));
    const [M, K, N, P] = [24, 16, 32, 8];
    const W = randomF32(K * N, rand);
    const b = randomF32(N, rand, -0.2, 0.2);
    const x = randomF32(M * K, rand);
    const B2 = randomF32(N * P, rand);
    const model = tinyGraph(W, b, K, N);

    // wasm EP on the CPU
    const cpu = await createSession(ort, model, { ep: 'wasm' });
    const yCpu = (await cpu.run({ x: new ort.Tensor('float32', x, [M, K]) })).y.data as Float32Array;
    const yRef = refTiny(x, W, b, M, K, N);
    expect(relError(yCpu, yRef)).toBeLessThan(1e-5);

    // WebGPU EP on our device: input from one of our GPU buffers, output left on the GPU.
    const session = await createSession(ort, model, { ep: 'webgpu', gpu }, { preferredOutputLocation: 'gpu-buffer' });
    const xBuf = createStorageBuffer(device, x);
    const feeds = { x: ort.Tensor.fromGpuBuffer(xBuf, { dataType: 'float32', dims: [M, K] }) };
    const out = await session.run(feeds);
    expect(out.y.location).toBe('gpu-buffer');
    const yBuf = out.y.gpuBuffer as GPUBuffer;

    // Our kernel reads ORT's output buffer directly.
    const bBuf = createStorageBuffer(device, B2);
    const zBuf = createStorageBuffer(device, M * P * 4);
    poisonBuffer(device, zBuf);
    const enc = device.createCommandEncoder();
    encodeMatmul(device, enc, yBuf, bBuf, zBuf, M, P, N);
    device.queue.submit([enc.finish()]);
    const z = await readF32(device, zBuf, M * P);

    const zRef = new Float64Array(M * P);
    for (let i = 0; i < M; i++)
      for (let k = 0; k < N; k++) for (let j = 0; j < P; j++) zRef[i * P + j] += yRef[i * N + k] * B2[k * P + j];
    expect(relError(z, zRef)).toBeLessThan(1e-5);
    // The two EPs agree with each other too.
    expect(relError(new Float32Array((await out.y.getData()) as Float32Array), yCpu)).toBeLessThan(1e-5);

    out.y.dispose();
    await session.release();
    await cpu.release();
    for (const buf of [xBuf, bBuf, zBuf]) buf.destroy();
  });
});
