/**
 * The browser demo page: pick images (or the procedural sample scene), choose the global-attention policy and
 * sparsity, run VGGT or π³ (whichever the checkpoint holds) on WebGPU in a Web Worker (hess-vggt/worker: the page
 * stays responsive), look at the point cloud + camera frustums (three.js, OrbitControls) and compare dense vs sparse
 * in a table.
 *
 * Page parameters: `?model=<url of model.safetensors>` (default: the repo's models/vggt-synth/; a π³ checkpoint is
 * detected from its tensor names), `config=<url of config.json>` (default: next to the model; optional),
 * `hess=<url of a HeSS file>`, `size=<input width>` (default 98 for the default model, 518 otherwise),
 * `ort=<onnxruntime-web dist URL>` (default /node_modules/onnxruntime-web/dist/).
 * `window.__demo` exposes the page state for tests ({ state, kind, runs, error, backend, views }).
 *
 * π³ is shown through `pi3AsVggtResult` (evaluate): its camera-to-world poses inverted to VGGT's world-to-camera
 * extrinsics, depth = the local points' z, confidence 1 + exp(logit) (monotone in the logit, so the view's
 * lowest-10% filter drops the same points as on the logits or their sigmoid). π³'s world frame is arbitrary (no
 * reference camera); the GT comparison aligns every prediction to the GT by a similarity anyway, so it holds for both.
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { parseHessFile, type HessFile } from '../hess/hess-file.js';
import { HessError } from '../errors.js';
import type { VggtConfigOverride } from '../model/config.js';
import type { Pi3ConfigOverride } from '../model/pi3/config.js';
import { fromBlob } from '../model/image/image-decode.js';
import { preprocessImages } from '../model/image/preprocess.js';
import type { RgbaImage } from '../model/image/rgba-image.js';
import type { ProgressEvent, VggtResult } from '../model/vggt/model.js';
import type { WorkerResult } from '../worker/messages.js';
import { ModelWorker } from '../worker/worker-client.js';
import { applySimilarity } from '../calibrate/geometry/align.js';
import { renderHessHeatmap } from '../evaluate/heatmap.js';
import { pi3AsVggtResult } from '../evaluate/pi3-result.js';
import {
  autoBlocks,
  cameraToWorld,
  demoHess,
  type DemoModel,
  demoRow,
  hessFits,
  ROW_HEADERS,
  rowCells,
  sampleSceneWithGt,
  scoreAgainstGt,
  type DemoGroundTruth,
  type GtScore,
} from './lib.js';
import css from './style.css';

document.head.appendChild(document.createElement('style')).textContent = css;

type Policy = 'dense' | 'uniform' | 'hess' | 'reverse';
interface DemoState {
  state: 'loading' | 'ready' | 'running' | 'error';
  /** The loaded model's kind. */
  kind?: 'vggt' | 'pi3';
  runs: number;
  error?: string;
  backend?: string;
  /** Points drawn in the last result's views: predicted, and GT (0 when the images have no GT: no split view). */
  views?: { predicted: number; groundTruth: number };
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const DEFAULT_MODEL = '/models/vggt-synth/model.safetensors'; // in the repo: the page needs nothing beside it
// The default model's HeSS scores (VGGT's), calibrated on 3 of the shared calibration scenes. `?hess=<url>` gives
// another; a `?model=` of the user's own gets planted scores sized for it until a file is given.
const DEFAULT_HESS = '/models/vggt-synth/hess.json';
const givenHessUrl = params.get('hess');
const shippedHessUrl = params.get('model') ? null : DEFAULT_HESS;
const modelUrl = new URL(params.get('model') ?? DEFAULT_MODEL, location.href).href;
const configUrl = new URL(params.get('config') ?? modelUrl.replace(/[^/?#]*([?#].*)?$/, 'config.json'), location.href)
  .href;
const wasmPaths = params.get('ort') ?? '/node_modules/onnxruntime-web/dist/';
const demo: DemoState = { state: 'loading', runs: 0 };
(window as unknown as { __demo: DemoState }).__demo = demo;

const status = (text: string, error = false) => {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', error);
};
const progress = (value: number, stage: string) => {
  $<HTMLProgressElement>('progress').value = value;
  $('stage').textContent = stage;
};

// --- 3D view ------------------------------------------------------------------------------------------------------
const canvas = $<HTMLCanvasElement>('view3d');
// preserveDrawingBuffer: the page (and its test) can read the pixels back after a frame.
const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
const scene = new THREE.Scene();
scene.background = new THREE.Color(0x0a0c0f);
const camera = new THREE.PerspectiveCamera(50, 1, 0.001, 1e4);
camera.position.set(0, 0, 1);
const controls = new OrbitControls(camera, canvas);
const content = new THREE.Group();
scene.add(content);
// The GT cloud (sample scene only) in its own scene, drawn in the left half with the same camera: side by side.
const gtScene = new THREE.Scene();
gtScene.background = scene.background;
const gtContent = new THREE.Group();
gtScene.add(gtContent);
let split = false;
const render = () => {
  const w = canvas.clientWidth,
    h = Math.max(1, canvas.clientHeight);
  const half = Math.floor(w / 2);
  camera.aspect = (split ? half : w) / h;
  camera.updateProjectionMatrix();
  renderer.setScissorTest(split);
  if (!split) {
    renderer.setViewport(0, 0, w, h);
    renderer.render(scene, camera);
    return;
  }
  renderer.setViewport(0, 0, half, h);
  renderer.setScissor(0, 0, half, h);
  renderer.render(gtScene, camera);
  renderer.setViewport(half, 0, w - half, h);
  renderer.setScissor(half, 0, w - half, h);
  renderer.render(scene, camera);
};
controls.addEventListener('change', render);
new ResizeObserver(() => {
  const box = $('viewer');
  renderer.setSize(box.clientWidth, box.clientHeight, false);
  camera.aspect = box.clientWidth / Math.max(1, box.clientHeight);
  camera.updateProjectionMatrix();
  render();
}).observe($('viewer'));

const FRAME_COLORS = [0xff5a5a, 0x5aff7a, 0x5aa9ff, 0xffd15a, 0xd25aff, 0x5affef];

/** OpenCV camera/world axes (x right, y down, z forward) → three.js (y up, z toward the viewer). */
const cv2three = (x: number, y: number, z: number): [number, number, number] => [x, -y, -z];

/** three.js treats vertex colours as linear and encodes the output as sRGB; the input pixels are sRGB. */
const srgbToLinear = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(q * (sorted.length - 1))))];
}

function clearGroup(g: THREE.Group): void {
  for (const child of [...g.children]) {
    g.remove(child);
    const m = child as THREE.Points | THREE.LineSegments;
    m.geometry?.dispose();
    (m.material as THREE.Material | undefined)?.dispose();
  }
}

/** The GT cloud, moved into the prediction's frame, coloured from the input pixels: the left half of the view. */
function showGroundTruth(gt: DemoGroundTruth, score: GtScore, images: Float32Array): number {
  const HW = gt.H * gt.W;
  const idx: number[] = [];
  for (let i = 0; i < gt.S * HW; i++) if (gt.depth[i] > 0) idx.push(i);
  const world = new Float64Array(3 * idx.length);
  idx.forEach((i, j) => world.set(gt.points.subarray(3 * i, 3 * i + 3), 3 * j));
  const inPred = applySimilarity(score.gtToPred, world);
  const pos: number[] = [],
    col: number[] = [];
  idx.forEach((i, j) => {
    pos.push(...cv2three(inPred[3 * j], inPred[3 * j + 1], inPred[3 * j + 2]));
    const s = Math.floor(i / HW),
      p = i % HW;
    for (let c = 0; c < 3; c++) col.push(srgbToLinear(images[(s * 3 + c) * HW + p]));
  });
  const geo = new THREE.BufferGeometry();
  geo.setAttribute('position', new THREE.Float32BufferAttribute(pos, 3));
  geo.setAttribute('color', new THREE.Float32BufferAttribute(col, 3));
  gtContent.add(
    new THREE.Points(geo, new THREE.PointsMaterial({ size: 3, sizeAttenuation: false, vertexColors: true })),
  );
  return idx.length;
}

/**
 * Replace the view with the result's confident points (coloured from the input) and its camera frustums; with a
 * GT (the sample scene), split it: GT on the left, prediction on the right, one camera for both. π³'s result comes
 * in VGGT's form (`shown`).
 */
function showResult(
  r: VggtResult,
  images: Float32Array,
  gt: { truth: DemoGroundTruth; score: GtScore } | null = null,
): void {
  clearGroup(content);
  clearGroup(gtContent);
  const groundTruth = gt ? showGroundTruth(gt.truth, gt.score, images) : 0;
  split = groundTruth > 0;
  document.getElementById('viewer')!.classList.toggle('split', split);
  demo.views = { predicted: 0, groundTruth };
  const { S, H, W } = r;
  const pts = r.worldPoints,
    conf = r.worldPointsConf;
  if (!pts || !conf) return;
  const HW = H * W;
  // Drop the least confident 10% (VGGT's usual filter; by rank, so the same points for π³'s logits), and non-finite points.
  const confSorted = Float64Array.from(conf).sort();
  const minConf = percentile(confSorted, 0.1);
  const pos: number[] = [],
    col: number[] = [];
  for (let i = 0; i < S * HW; i++) {
    const x = pts[3 * i],
      y = pts[3 * i + 1],
      z = pts[3 * i + 2];
    if (!(conf[i] >= minConf) || !Number.isFinite(x + y + z)) continue;
    pos.push(...cv2three(x, y, z));
    const s = Math.floor(i / HW),
      p = i % HW;
    for (let c = 0; c < 3; c++) col.push(srgbToLinear(images[(s * 3 + c) * HW + p]));
  }
  const n = pos.length / 3;
  demo.views = { predicted: n, groundTruth };
  if (!n) return;
  const geo = new THREE.BufferGeometry();
  geo.setAttribute('position', new THREE.Float32BufferAttribute(pos, 3));
  geo.setAttribute('color', new THREE.Float32BufferAttribute(col, 3));
  const mat = new THREE.PointsMaterial({ size: 3, sizeAttenuation: false, vertexColors: true });
  content.add(new THREE.Points(geo, mat));

  // Robust extent (2nd–98th percentile per axis): a few wild points must not shrink the view.
  const lo: number[] = [],
    hi: number[] = [];
  for (let a = 0; a < 3; a++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = pos[3 * i + a];
    v.sort();
    lo.push(percentile(v, 0.02));
    hi.push(percentile(v, 0.98));
  }
  const pointsRadius = Math.max(1e-6, Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) / 2);
  const toWorld = (s: number, px: number, py: number, pz: number) =>
    cv2three(...cameraToWorld(r.extrinsics!, s, [px, py, pz]));
  // Frame the cameras too (those not absurdly far from the cloud), so their frustums are in view. An untrained
  // model (the tiny fixture) puts them tens of cloud radii away: then the cloud wins and the note says so.
  let framed = 0;
  if (r.extrinsics) {
    const mid = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2];
    for (let s = 0; s < S; s++) {
      const c = toWorld(s, 0, 0, 0);
      if (!c.every(Number.isFinite) || Math.hypot(c[0] - mid[0], c[1] - mid[1], c[2] - mid[2]) > 10 * pointsRadius)
        continue;
      for (let a = 0; a < 3; a++) {
        lo[a] = Math.min(lo[a], c[a]);
        hi[a] = Math.max(hi[a], c[a]);
      }
      framed++;
    }
  }
  const center = new THREE.Vector3((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2);
  const radius = Math.max(1e-6, Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) / 2);

  let frustums = 0;
  if (r.extrinsics && r.intrinsics) {
    const scale = radius * 0.15; // a fraction of the framed scene, cameras included
    for (let s = 0; s < S; s++) {
      const K = r.intrinsics.subarray(s * 9, s * 9 + 9);
      const c0 = toWorld(s, 0, 0, 0);
      const corners = [
        [0, 0],
        [W, 0],
        [W, H],
        [0, H],
      ].map(([u, v]) => toWorld(s, ((u - K[2]) / K[0]) * scale, ((v - K[5]) / K[4]) * scale, scale));
      const seg: number[] = [];
      for (let k = 0; k < 4; k++) seg.push(...c0, ...corners[k], ...corners[k], ...corners[(k + 1) % 4]);
      if (!seg.every(Number.isFinite)) continue; // e.g. an infinite focal length from an untrained camera head
      frustums++;
      const g = new THREE.BufferGeometry();
      g.setAttribute('position', new THREE.Float32BufferAttribute(seg, 3));
      content.add(
        new THREE.LineSegments(g, new THREE.LineBasicMaterial({ color: FRAME_COLORS[s % FRAME_COLORS.length] })),
      );
    }
  }
  // Look from behind and above the first camera (VGGT: at the origin, looking down −z; π³'s frame is arbitrary).
  controls.target.copy(center);
  camera.position.set(center.x + 0.6 * radius, center.y + 0.8 * radius, center.z + 2.4 * radius);
  camera.near = radius / 1000;
  camera.far = radius * 100;
  camera.updateProjectionMatrix();
  controls.update();
  render();
  $('viewnote').textContent =
    `${n.toLocaleString()} points, ${frustums}/${S} camera frustums drawn (${framed} framed)` +
    `${demo.kind === 'pi3' ? ' · π³: its own world frame (no reference camera), focal lengths fitted to its local points' : ''}` +
    `${split ? ` · left: ground truth (${groundTruth.toLocaleString()} points, aligned), right: predicted` : ''} · drag to orbit, scroll to zoom, right-drag to pan`;
}

// --- Inputs -------------------------------------------------------------------------------------------------------
let images: RgbaImage[] = [];
let imagesVersion = 0;
/** The HeSS file the user gave (file input or `?hess=`), and the one shipped with the default model (VGGT's). */
let hessFile: HessFile | null = null;
let shippedHess: HessFile | null = null;
let model: ModelWorker | null = null;
let lastDense: { key: string; r: VggtResult } | null = null;
/** GT of the current images (the sample scene), null for picked images. */
let truth: DemoGroundTruth | null = null;
let sampleSeed = Number(params.get('seed') ?? 1);

function setImages(list: RgbaImage[], what: string, gt: DemoGroundTruth | null = null): void {
  images = list;
  truth = gt;
  imagesVersion++;
  const thumbs = $('thumbs');
  thumbs.replaceChildren(
    ...list.map((img) => {
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      c.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
      return c;
    }),
  );
  thumbs.title = what;
}

function sampleScene(): void {
  const size = inputSize();
  // Rendered at the model input size (7:5, as the trained model's scenes): preprocessing keeps every pixel, so each
  // predicted pixel has its GT depth and point.
  const h = Math.max(14, Math.round((size * 5) / 7 / 14) * 14);
  const { images: views, gt } = sampleSceneWithGt(sampleSeed, size, h);
  setImages(views, `sample scene ${sampleSeed}: 3 ray-cast views with ground truth`, gt);
}

function inputSize(): number {
  const v = Number($<HTMLInputElement>('size').value);
  if (!(Number.isInteger(v) && v >= 14 && v % 14 === 0)) {
    throw new HessError(
      'INVALID_ARGUMENT',
      `model input width must be a positive multiple of 14, got ${v}`,
      'e.g. 98 for the tiny model, 518 for VGGT-1B',
    );
  }
  return v;
}

$<HTMLInputElement>('size').value = params.get('size') ?? (params.get('model') ? '518' : '98');
$('sample').addEventListener('click', () =>
  guard(async () => {
    if (truth) sampleSeed++; // a new scene each click
    sampleScene();
  }),
);
$<HTMLInputElement>('files').addEventListener('change', (e) =>
  guard(async () => {
    const files = [...((e.target as HTMLInputElement).files ?? [])];
    if (files.length) setImages(await Promise.all(files.map((f) => fromBlob(f))), files.map((f) => f.name).join(', '));
  }),
);
$<HTMLInputElement>('hessfile').addEventListener('change', (e) =>
  guard(async () => {
    const f = (e.target as HTMLInputElement).files?.[0];
    hessFile = f ? parseHessFile(await f.text()) : null;
    describeHess();
  }),
);

/** The loaded model's kind and global-attention shape (null before load). */
function loaded(): DemoModel | null {
  const cfg = model?.config;
  return model?.kind && cfg ? { kind: model.kind, depth: cfg.depth, numHeads: cfg.numHeads } : null;
}

/** The HeSS file the hess/reverse policies use (null before a model is loaded): see `demoHess`. */
function hessInUse(): ReturnType<typeof demoHess> | null {
  const m = loaded();
  return m ? demoHess(m, hessFile, shippedHess) : null;
}

function describeHess(): void {
  const m = loaded();
  const inUse = hessInUse();
  const name = m?.kind === 'pi3' ? 'π³' : 'VGGT';
  const info = (f: HessFile) => `HeSS: ${f.modelId} (${f.calibration.scenes} calibration scenes)`;
  const misfit =
    m && inUse?.from === 'given' && !hessFits(inUse.file, m)
      ? ` · this file is for ${inUse.file.model ?? 'vggt'}, ${inUse.file.layers} layers × ${inUse.file.heads} heads; this ${name} has ${m.depth} × ${m.numHeads}: hess/reverse will be refused`
      : '';
  $('hessinfo').textContent = !inUse
    ? 'HeSS: chosen once the model is loaded'
    : inUse.from === 'planted'
      ? `HeSS: none for this ${name}: hess/reverse use PLANTED pseudo-scores (not calibrated)`
      : info(inUse.file) + misfit;
  // The scores the hess/reverse policies use, as layers × heads heat maps (camera, point-cloud and combined terms).
  $('heatmap').innerHTML = inUse
    ? renderHessHeatmap(inUse.file, inUse.from === 'planted' ? { title: 'PLANTED pseudo-scores (not calibrated)' } : {})
    : '';
}

// --- Runs ---------------------------------------------------------------------------------------------------------
/** A run's result as the table, the GT score and the view read it: VGGT's as is, π³'s through `pi3AsVggtResult`. */
const shown = (r: WorkerResult): VggtResult => (r.kind === 'pi3' ? pi3AsVggtResult(r) : r);

const STAGE_AT: Partial<Record<ProgressEvent['stage'], number>> = {
  preprocess: 0.02,
  aggregator: 0.05,
  heads: 0.6,
  done: 1,
};

async function run(policy: Policy): Promise<void> {
  if (!model) return;
  const size = inputSize();
  if (!images.length || (truth && truth.W !== size)) sampleScene();
  const pre = preprocessImages(images, { targetSize: size, mode: 'crop' });
  const input = { data: pre.data, S: pre.frames, H: pre.height, W: pre.width };
  const cfg = model.config!;
  const auto = autoBlocks(input.S, input.H, input.W, cfg.patchSize, cfg.patchStartIdx);
  const qb = Number($<HTMLInputElement>('qblock').value) || auto.queryBlock;
  const kb = Number($<HTMLInputElement>('kblock').value) || auto.keyBlock;
  const sparsity = Number($<HTMLInputElement>('sparsity').value);
  const hess = hessInUse()!.file;
  progress(0, policy);
  const out = await model.run(input, {
    policy,
    sparsity: policy === 'dense' ? 0 : sparsity,
    hess,
    queryBlock: qb,
    keyBlock: kb,
    onProgress: (e) => progress(STAGE_AT[e.stage] ?? 0, `${policy}: ${e.stage}`),
  });
  const r = shown(out);
  const key = `${imagesVersion}|${size}`;
  if (policy === 'dense') lastDense = { key, r };
  const score = truth ? scoreAgainstGt(r, truth) : null;
  const row = demoRow(policy, sparsity, r, lastDense?.key === key ? lastDense.r : null, score);
  const tr = document.createElement('tr');
  tr.dataset.policy = policy;
  for (const cell of rowCells(row)) tr.appendChild(Object.assign(document.createElement('td'), { textContent: cell }));
  $('timings').querySelector('tbody')!.appendChild(tr);
  showResult(r, pre.data, truth && score ? { truth, score } : null);
  demo.runs++;
  status(
    `${demo.backend} · last run: ${policy}, [${input.S}, 3, ${input.H}, ${input.W}], blocks q${qb}/k${kb}, ${r.timings.total.toFixed(0)} ms`,
  );
}

async function guard(fn: () => Promise<void>): Promise<void> {
  const buttons = ['run', 'compare', 'sample'].map((id) => $<HTMLButtonElement>(id));
  const prev = demo.state;
  try {
    if (prev === 'running') return;
    if (prev === 'ready') demo.state = 'running';
    for (const b of buttons) b.disabled = true;
    await fn();
    if (prev === 'ready') demo.state = 'ready';
  } catch (e) {
    const msg = e instanceof HessError ? e.message : String((e as Error)?.stack ?? e); // a HessError message ends with its fix
    console.error(e);
    status(msg, true);
    demo.error = msg;
    demo.state = prev === 'loading' ? 'error' : 'ready';
  } finally {
    for (const b of buttons) b.disabled = !model;
    $<HTMLButtonElement>('sample').disabled = false;
  }
}

const selectedPolicy = () => $<HTMLSelectElement>('policy').value as Policy;
$('run').addEventListener('click', () => guard(() => run(selectedPolicy())));
$('compare').addEventListener('click', () =>
  guard(async () => {
    await run('dense');
    if (selectedPolicy() !== 'dense') await run(selectedPolicy());
  }),
);

// --- Start --------------------------------------------------------------------------------------------------------
const thead = $('timings').querySelector('thead')!;
thead
  .appendChild(document.createElement('tr'))
  .append(...ROW_HEADERS.map((h) => Object.assign(document.createElement('th'), { textContent: h })));
describeHess();
sampleScene();

await guard(async () => {
  status(`loading ${modelUrl}…`);
  // config.json next to the checkpoint says what the shapes cannot (e.g. head counts); optional.
  let config: (VggtConfigOverride & Pi3ConfigOverride) | undefined;
  const res = await fetch(configUrl).catch(() => null);
  if (res?.ok) config = (await res.json()) as VggtConfigOverride & Pi3ConfigOverride;
  // The model lives in a Web Worker (vggt.worker.js): onnxruntime-web computes there, the page stays responsive.
  // ModelWorker loads whichever model the checkpoint holds (VGGT or π³, from its tensor names).
  const worker = await ModelWorker.create(
    () => new Worker(new URL('./vggt.worker.js', import.meta.url), { type: 'module' }),
  );
  const kind = await worker.load(modelUrl, {
    wasmPaths,
    config,
    onProgress: (e) => {
      if (e.stage === 'weights') progress(e.progress ?? 0, 'weights');
    },
  });
  model = worker;
  demo.kind = kind;
  const gpu = worker.gpu;
  demo.backend = gpu
    ? `WebGPU: ${gpu.name}${gpu.shaderF16 ? ' (f16)' : ' (no f16)'} (in a Web Worker)`
    : 'wasm EP (no WebGPU: dense only; in a Web Worker)';
  if (!gpu) for (const o of $<HTMLSelectElement>('policy').options) o.disabled = o.value !== 'dense';
  const fetchHess = async (url: string | null) => {
    const res = url ? await fetch(new URL(url, location.href)).catch(() => null) : null;
    return res?.ok ? parseHessFile(await res.text()) : null;
  };
  hessFile ??= await fetchHess(givenHessUrl);
  shippedHess = await fetchHess(shippedHessUrl);
  describeHess();
  progress(1, 'ready');
  const cfg = worker.config!;
  status(
    `${kind === 'pi3' ? 'π³' : 'VGGT'} · ${demo.backend} · ${cfg.depth} global layers × ${cfg.numHeads} heads · ready`,
  );
  demo.state = 'ready';
});
