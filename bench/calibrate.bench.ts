// HeSS calibration cost per scene on the wasm EP (CPU only, no WebGPU): forward pass (keeping block activations)
// vs the backward passes that give ∂e_cam/∂W_Q and ∂e_pc/∂W_Q for every global layer, side by side in one run.
// Model: the vggt-tiny fixture (../shared/fixtures/vggt-tiny: 24+24 blocks, width 64, 4 heads; 3 frames 70×98).
import { readFileSync } from 'node:fs';
import { sceneErrors } from '../src/calibrate/calibrate';
import { VggtGradients } from '../src/calibrate/gradients';
import { inferVggtConfig } from '../src/model/config';
import { fileSource, openSafetensors } from '../src/model/safetensors';
import { poseEncodingToExtriIntri } from '../src/model/vggt/pose';
import { minMs as minOf, writeResults } from './lib';

const REPS = Number(process.env.HESS_CAL_REPS ?? 3);
// No warm-up: each stage's first run is measured as part of the minimum, as before.
const minMs = (fn: () => Promise<unknown>, reps = REPS) => minOf(fn, reps, 0);
const FIX = '../shared/fixtures/vggt-tiny';


async function main(): Promise<void> {
  const st = await openSafetensors(await fileSource(`${FIX}/model.safetensors`));
  const io = await openSafetensors(await fileSource(`${FIX}/io.safetensors`));
  const cfg = inferVggtConfig(st.tensors, JSON.parse(readFileSync(`${FIX}/config.json`, 'utf8')));
  const images = await io.read('images');
  const shape = { S: 3, H: 70, W: 98 };
  let t0 = performance.now();
  for (const name of st.tensors.keys()) await st.read(name);
  const readAll = performance.now() - t0;
  t0 = performance.now();
  const vg = await VggtGradients.create(st, cfg);
  const create = performance.now() - t0;
  const fwd = await vg.forward(images, shape);
  // GT = the prediction with the camera centres and points shifted: any non-zero error works for timing
  const gtE = new Float64Array(36);
  const E = poseEncodingToExtriIntri(fwd.poseEnc, 3, 70, 98).extrinsics;
  gtE.set(E);
  for (let i = 3; i < 36; i += 4) gtE[i] += 0.05 * ((i * 7) % 5 - 2);
  const pts = Float64Array.from(fwd.worldPoints, (v, i) => v * (1 + 0.02 * Math.sin(i)));
  const errs = sceneErrors(fwd, { extrinsics: gtE, points: pts });
  t0 = performance.now();
  await vg.backward(fwd, { poseEnc: errs.camera.gradPoseEnc }, () => {});
  await vg.backward(fwd, { worldPoints: errs.pointCloud.gradWorldPoints }, () => {});
  const firstBackward = performance.now() - t0; // includes building + creating the VJP sessions
  const forward = await minMs(() => vg.forward(images, shape));
  const errors = await minMs(async () => sceneErrors(fwd, { extrinsics: gtE, points: pts }));
  const bCam = await minMs(() => vg.backward(fwd, { poseEnc: errs.camera.gradPoseEnc }, () => {}));
  const bPc = await minMs(() => vg.backward(fwd, { worldPoints: errs.pointCloud.gradWorldPoints }, () => {}));
  await vg.dispose();
  const scene = forward + errors + bCam + bPc;
  writeResults('calibrate', {
    title: 'HeSS calibration: forward vs forward + backward per scene (wasm EP, vggt-tiny, 3 frames 70×98)',
    tables: [{
      caption: `Per-scene stages (min of ${REPS} runs, ms)`,
      header: ['stage', 'ms', '× forward'],
      rows: [
        ['forward (aggregator + camera + point head, keeping block activations)', forward, 1],
        ['errors + H + gradients w.r.t. outputs (JS float64)', errors, errors / forward],
        ['backward e_cam (camera head → 24 global / 23 frame blocks)', bCam, bCam / forward],
        ['backward e_pc (point DPT head → 24 global / 23 frame blocks)', bPc, bPc / forward],
        ['whole scene (forward + errors + both backward passes)', scene, scene / forward],
      ],
    }, {
      caption: 'One-time costs (ms)',
      header: ['step', 'ms'],
      rows: [['read every checkpoint tensor once (safetensors, from disk)', readAll], ['VggtGradients.create (weights + forward sessions)', create], ['first two backward passes (incl. building the 4 VJP graphs + sessions)', firstBackward]],
    }],
    notes: [
      'Backward = one VJP session run per segment (each recomputes its segment forward internally), wasm EP, float32.',
      'Saved activations: 2·S·P·C float32 per block (x and xf); 24 blocks × 2 × 3·40·64·4 B ≈ 1.5 MB here.',
    ],
    data: { forward, errors, bCam, bPc, scene, readAll, create, firstBackward },
  });
}

main().catch((e) => { console.error(e); process.exit(1); });
