// HeSS calibration cost per scene on the wasm EP (CPU only): forward pass (keeping block activations) vs the
// backward passes that give ∂e_cam/∂W_Q and ∂e_pc/∂W_Q for every global layer, side by side in one run, for
//  - tiny: the vggt-tiny fixture (../shared/fixtures/vggt-tiny: 24+24 blocks, width 64, 4 heads; 3 frames 70×98);
//  - mid:  a random VGGT-shaped checkpoint with heads (24+24 blocks, width 256, 8 heads; 4 frames 126×168),
//          also with activation checkpointing (keep every 5th block input, recompute the rest) and with the global
//          blocks' backward split into query chunks.
import { sceneErrors } from '../src/calibrate/calibrate.js';
import { VggtGradients } from '../src/calibrate/gradients.js';
import { inferVggtConfig, type VggtConfig } from '../src/model/config.js';
import { bytesSource, openSafetensors, type Safetensors } from '../src/model/source/safetensors.js';
import { poseEncodingToExtriIntri } from '../src/model/vggt/pose.js';
import { lcg, minMs as minOf, writeResults } from './lib.js';
import { randomVggtCheckpoint } from './random-vggt.js';
import { loadFixture } from './vggt-tiny.js';

const REPS = Number(process.env.HESS_CAL_REPS ?? 3);
// No warm-up: each stage's first run is measured as part of the minimum.
const minMs = (fn: () => Promise<unknown>, reps = REPS) => minOf(fn, reps, 0);

interface Case {
  name: string;
  st: Safetensors;
  cfg: VggtConfig;
  images: Float32Array;
  shape: { S: number; H: number; W: number };
  checkpointEvery: number;
  attentionChunk?: number;
}

async function measure(c: Case) {
  const { S, H, W } = c.shape;
  let t0 = performance.now();
  const vg = await VggtGradients.create(c.st, c.cfg, {
    checkpointEvery: c.checkpointEvery,
    attentionChunk: c.attentionChunk ?? 'auto',
  });
  const create = performance.now() - t0;
  const fwd = await vg.forward(c.images, c.shape);
  // GT = the prediction with the camera centres and points shifted: any non-zero error works for timing
  const gtE = Float64Array.from(poseEncodingToExtriIntri(fwd.poseEnc, S, H, W).extrinsics);
  for (let i = 3; i < 12 * S; i += 4) gtE[i] += 0.05 * (((i * 7) % 5) - 2);
  const pts = Float64Array.from(fwd.worldPoints, (v, i) => v * (1 + 0.02 * Math.sin(i)));
  const gt = { extrinsics: gtE, points: pts };
  const errs = sceneErrors(fwd, gt);
  t0 = performance.now();
  await vg.backward(fwd, { poseEnc: errs.camera.gradPoseEnc }, () => {});
  await vg.backward(fwd, { worldPoints: errs.pointCloud.gradWorldPoints }, () => {});
  const firstBackward = performance.now() - t0; // includes building + creating the VJP sessions
  const forward = await minMs(() => vg.forward(c.images, c.shape));
  const errors = await minMs(async () => sceneErrors(fwd, gt));
  const bCam = await minMs(() => vg.backward(fwd, { poseEnc: errs.camera.gradPoseEnc }, () => {}));
  const bPc = await minMs(() => vg.backward(fwd, { worldPoints: errs.pointCloud.gradWorldPoints }, () => {}));
  const keptMB = [...fwd.x, ...fwd.xf].reduce((a, x) => a + (x ? x.byteLength : 0), 0) / 2 ** 20;
  await vg.dispose();
  const scene = forward + errors + bCam + bPc;
  console.log(
    `${c.name}: forward ${forward.toFixed(0)} ms, scene ${scene.toFixed(0)} ms (${(scene / forward).toFixed(2)}× forward), block activations ${keptMB.toFixed(1)} MB`,
  );
  return { name: c.name, forward, errors, bCam, bPc, scene, ratio: scene / forward, keptMB, create, firstBackward };
}

async function main(): Promise<void> {
  const fx = await loadFixture();
  const tinyImages = Float32Array.from(await fx.ref('images'));
  const m = randomVggtCheckpoint({
    dim: 256,
    heads: 8,
    depth: 24,
    dinoDepth: 2,
    predictionHeads: { cameraHeads: 8, trunkDepth: 4, features: 64, outChannels: [32, 64, 128, 128] },
  });
  const midSt = await openSafetensors(bytesSource(m.bytes));
  const midCfg = inferVggtConfig(midSt.tensors, m.config);
  const midShape = { S: 4, H: 126, W: 168 };
  const r = lcg(3);
  const midImages = new Float32Array(midShape.S * 3 * midShape.H * midShape.W).map(() => r());
  const cases: Case[] = [
    {
      name: 'tiny (width 64, 4 heads), 3 frames 70×98',
      st: fx.model,
      cfg: fx.cfg,
      images: tinyImages,
      shape: { S: fx.S, H: fx.H, W: fx.W },
      checkpointEvery: 1,
    },
    {
      name: 'mid (width 256, 8 heads), 4 frames 126×168',
      st: midSt,
      cfg: midCfg,
      images: midImages,
      shape: midShape,
      checkpointEvery: 1,
    },
    {
      name: 'mid, checkpointEvery 5 (recompute)',
      st: midSt,
      cfg: midCfg,
      images: midImages,
      shape: midShape,
      checkpointEvery: 5,
    },
    {
      name: 'mid, attentionChunk 128 (4 query chunks of the 452 tokens)',
      st: midSt,
      cfg: midCfg,
      images: midImages,
      shape: midShape,
      checkpointEvery: 1,
      attentionChunk: 128,
    },
  ];
  const results = [];
  for (const c of cases) results.push(await measure(c));
  const f = (x: number) => x;
  writeResults('calibrate', {
    title: 'HeSS calibration: forward vs forward + backward per scene (wasm EP, one run)',
    tables: [
      {
        caption: `Per-scene stages (min of ${REPS} runs, ms; ratio = whole scene / forward)`,
        header: [
          'model',
          'forward',
          'errors + H (JS float64)',
          'backward e_cam',
          'backward e_pc',
          'whole scene',
          '× forward',
          'kept block activations MB',
        ],
        rows: results.map((r) => [
          r.name,
          f(r.forward),
          f(r.errors),
          f(r.bCam),
          f(r.bPc),
          f(r.scene),
          r.ratio,
          r.keptMB,
        ]),
      },
      {
        caption: 'One-time costs (ms)',
        header: [
          'model',
          'VggtGradients.create (weights + forward sessions)',
          'first two backward passes (incl. building the VJP graphs + sessions)',
        ],
        rows: results.map((r) => [r.name, r.create, r.firstBackward]),
      },
    ],
    notes: [
      'forward = aggregator + camera head + point head, keeping the block activations the backward pass needs.',
      'Backward = one VJP session run per segment (camera head or point DPT head, then 24 global / 23 frame blocks), each recomputing its segment forward internally; wasm EP, float32.',
      'checkpointEvery 5 keeps 5 of 48 block activations and recomputes each chunk of blocks once per backward pass (frame + global block forward sessions).',
      "attentionChunk 128 runs each global block's backward as a K/V pass + 4 query-chunk VJPs + the K/V VJP (attention probabilities [H, 128, N] instead of [H, N, N]).",
      "The first VggtGradients.create of the run (tiny) includes a one-time ~30 s stall: V8 optimising onnxruntime-web's wasm blocks the main thread on this 2-core machine (node --liftoff-only avoids it but halves wasm-EP compute: Vggt.load of the tiny model 32.3 s → 1.2 s, one run 155 → 330 ms). Compare the later rows for the per-model cost.",
      'The WebGPU EP path (target: { ep: "webgpu" }) is checked for correctness in test/gpu/calibrate; on this software adapter it is not a speed reference.',
    ],
    data: results,
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
