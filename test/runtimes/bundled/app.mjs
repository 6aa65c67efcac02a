// A consumer app as a bundler sees it: imports the package by name, loads onnxruntime-web through the SDK (no
// import map, no setOrt) and runs a MatMul graph built with the SDK's ONNX builder on the wasm EP. Returns the
// relative error against a float64 product computed here on fresh random inputs.
import { Vggt, loadOrt } from 'hess-vggt';
import { Graph, createSession } from 'hess-vggt/advanced';

export async function runApp(wasmPaths) {
  const ort = await loadOrt({ wasmPaths, numThreads: 1 });
  const M = 5,
    K = 7,
    N = 3;
  const g = new Graph('app');
  const x = g.input('x', 'float32', [M, K]);
  const w = g.input('w', 'float32', [K, N]);
  g.output(g.op('MatMul', [x, w])[0], 'float32', [M, N], 'y');
  const session = await createSession(ort, g.toModel().model, { ep: 'wasm' });
  const a = Float32Array.from({ length: M * K }, () => Math.random() * 2 - 1);
  const b = Float32Array.from({ length: K * N }, () => Math.random() * 2 - 1);
  const out = await session.run({ x: new ort.Tensor('float32', a, [M, K]), w: new ort.Tensor('float32', b, [K, N]) });
  const y = out.y.data;
  let err = 0,
    scale = 0;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let ref = 0;
      for (let k = 0; k < K; k++) ref += a[i * K + k] * b[k * N + j];
      err = Math.max(err, Math.abs(y[i * N + j] - ref));
      scale = Math.max(scale, Math.abs(ref));
    }
  await session.release();
  return { relErr: err / scale, outputs: y.length };
}

/**
 * The issue's own reproduction: `Vggt.load(url, { device: 'wasm' })` from a bundled app, then a run on random
 * preprocessed frames. Returns output sizes and whether every value is finite.
 */
export async function runModel(modelUrl, wasmPaths) {
  const config = await (await fetch(new URL('config.json', modelUrl))).json();
  const model = await Vggt.load(modelUrl, { device: 'wasm', wasmPaths, numThreads: 1, config });
  const S = 2,
    H = 70,
    W = 98;
  const r = await model.run({ data: Float32Array.from({ length: S * 3 * H * W }, () => Math.random()), S, H, W });
  await model.dispose();
  const finite = [r.depth, r.worldPoints, r.extrinsics].every((a) => a.every(Number.isFinite));
  return { ep: model.target.ep, depth: r.depth.length, extrinsics: r.extrinsics.length, finite };
}
