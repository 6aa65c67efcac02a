// Page of the worker test: the in-repo tiny VGGT loaded through the VggtWorker proxy on the wasm EP; long tasks on
// this (main) thread recorded while the worker runs; an abort mid-run; a second run after it; and, last, the same
// inputs run directly on this page as the reference (its long tasks come after the measured window).
import { Vggt } from '../../../dist/browser/index.js';
import { HessError, VggtWorker } from '../../../dist/browser/worker.js';

const longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    longTasks.push({ start: e.startTime, end: e.startTime + e.duration, duration: e.duration });
}).observe({ type: 'longtask', buffered: true });

const wasmPaths = new URL('/node_modules/onnxruntime-web/dist/', location.href).href;
const modelUrl = new URL('/models/vggt-synth/model.safetensors', location.href).href;
const OUTPUTS = ['poseEnc', 'extrinsics', 'intrinsics', 'depth', 'depthConf', 'worldPoints', 'worldPointsConf'];
const frames = (S, H = 70, W = 98) => ({
  data: Float32Array.from({ length: S * 3 * H * W }, () => Math.random()),
  S,
  H,
  W,
});
const during = (t0, t1) => longTasks.filter((t) => t.end > t0 && t.start < t1).map((t) => t.duration);

/** Max |a − b| / max |b| over every output array. */
function relErr(a, b) {
  let worst = 0;
  for (const k of OUTPUTS) {
    let err = 0,
      scale = 0;
    for (let i = 0; i < b[k].length; i++) {
      err = Math.max(err, Math.abs(a[k][i] - b[k][i]));
      scale = Math.max(scale, Math.abs(b[k][i]));
    }
    worst = Math.max(worst, err / scale);
  }
  return worst;
}

async function main() {
  const settled = [];
  const vggt = await VggtWorker.create(
    () => new Worker(new URL('./vggt.worker.js', import.meta.url), { type: 'module' }),
    { onAbortSettled: (e) => settled.push(e) },
  );
  const loadStages = new Set();
  await vggt.load(modelUrl, { device: 'wasm', wasmPaths, numThreads: 1, onProgress: (e) => loadStages.add(e.stage) });

  // A page that animates: a 16 ms heartbeat from here on, so the main thread has tasks whose delays show. First a
  // control window with the worker idle: long tasks there come from the machine (CPU starvation), not from the SDK.
  const heartbeat = setInterval(() => {}, 16);
  const c0 = performance.now();
  await new Promise((r) => setTimeout(r, 3000));
  const c1 = performance.now();

  const inputA = frames(2);
  const runStages = new Set();
  const t0 = performance.now();
  const a = await vggt.run(inputA, { onProgress: (e) => runStages.add(e.stage) });
  const t1 = performance.now();

  // Abort as soon as the worker reports that the aggregator started (mid-run).
  const controller = new AbortController();
  let abortAt = 0;
  const abortedRun = vggt.run(frames(4), {
    signal: controller.signal,
    onProgress: (e) => {
      if (e.stage === 'aggregator' && !abortAt) {
        abortAt = performance.now();
        controller.abort();
      }
    },
  });
  const abortError = await abortedRun.then(
    () => null,
    (e) => e,
  );
  const rejectedMs = performance.now() - abortAt;
  while (settled.length === 0) await new Promise((r) => setTimeout(r, 10));

  const inputB = frames(2);
  const t2 = performance.now();
  const b = await vggt.run(inputB);
  const t3 = performance.now();
  await vggt.dispose();
  clearInterval(heartbeat);

  const sizes = Object.fromEntries(OUTPUTS.map((k) => [k, [a[k]?.constructor.name, a[k]?.length]]));

  // A forwarded error: a missing checkpoint, re-thrown on the page as a HessError with its code and fix.
  const bad = await VggtWorker.create(new Worker(new URL('./vggt.worker.js', import.meta.url), { type: 'module' }));
  const loadError = await bad
    .load('/models/nowhere/model.safetensors', { device: 'wasm', wasmPaths, numThreads: 1 })
    .then(
      () => null,
      (e) => e,
    );
  await bad.dispose();

  // Reference: the same inputs through Vggt directly on this page.
  const direct = await Vggt.load(modelUrl, { device: 'wasm', wasmPaths, numThreads: 1 });
  const d0 = performance.now();
  const refA = await direct.run(inputA);
  const d1 = performance.now();
  const refB = await direct.run(inputB);
  await direct.dispose();
  await new Promise((r) => setTimeout(r, 500)); // PerformanceObserver delivers entries asynchronously

  return {
    ep: vggt.ep,
    loadStages: [...loadStages],
    runStages: [...runStages],
    sizes,
    relErrA: relErr(a, refA),
    relErrB: relErr(b, refB),
    runMs: t1 - t0,
    longTasksDuringRuns: [...during(t0, t1), ...during(abortAt, t3)],
    longTasksIdleControl: during(c0, c1),
    longTasksDirectRun: during(d0, d1),
    controlMs: c1 - c0,
    runBMs: t3 - t2,
    abort: {
      isHessError: abortError instanceof HessError,
      code: abortError?.code,
      rejectedMs,
      settled: settled[0],
      secondRunMs: t3 - t2,
    },
    loadError: { isHessError: loadError instanceof HessError, code: loadError?.code, fix: loadError?.fix ?? '' },
  };
}

main().then(
  (r) => {
    window.__result = r;
  },
  (e) => {
    window.__result = { error: String(e?.stack ?? e) };
  },
);
