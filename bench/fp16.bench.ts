// bench-flags: --no-opt --liftoff-only
// fp16 compute on the vggt-tiny fixture (../shared/fixtures/vggt-tiny) against its float64 reference, per output
// tensor: fp32, the aggregator alone in fp16 (heads fp32 on its layers, read back), and everything in fp16 (what
// `Vggt.load(…, { dtype: 'fp16' })` runs: f16 layers handed to f16 heads on the GPU). Then the heads alone in fp16
// on the reference layers with each choice of float32 parts: what the defaults keep in fp32 is measured here.
// Errors are max|got − ref| / max|ref| per tensor (test/helpers/random.ts relError). Writes bench/results/fp16.md.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Tensor } from 'onnxruntime-web';
import { toF16 } from '../src/attention/f16.js';
import { createDevice } from '../src/gpu/device.js';
import { createStorageBuffer } from '../src/gpu/buffers.js';
import { inferVggtConfig, type VggtConfigOverride } from '../src/model/config.js';
import { fileSource, openSafetensors } from '../src/model/source/safetensors.js';
import { Aggregator } from '../src/model/trunk/aggregator.js';
import { estimateMemory, VGGT_1B_CONFIG } from '../src/model/vggt/estimate.js';
import { CAMERA_FP32_PARTS, CameraHead, type CameraFp32Part } from '../src/model/vggt/camera-head.js';
import { DPT_FP32_PARTS, DptHead, type DptFp32Part, type DptHeadSpec } from '../src/model/vggt/dpt-head.js';
import { Vggt, type VggtResult } from '../src/model/vggt/model.js';
import { loadOrt } from '../src/runtime/ort.js';
import { WgslAttention } from '../src/runtime/wgsl-attention.js';
import { writeResults } from './lib.js';
import { relError } from './rel-error.js';
import { readFile } from 'node:fs/promises';

const FIXTURE = resolve(process.cwd(), '../shared/fixtures/vggt-tiny');
if (!existsSync(`${FIXTURE}/model.safetensors`)) {
  console.log(`fp16: ${FIXTURE} is absent; nothing to measure`);
  process.exit(0);
}

const e = (x: number) => x.toExponential(2);

const gpu = await createDevice();
if (!gpu.features.shaderF16) {
  console.log(`fp16: ${gpu.name} has no shader-f16; nothing to measure`);
  process.exit(0);
}
const ort = await loadOrt();
const target = { ep: 'webgpu' as const, gpu };
const json = JSON.parse(await readFile(`${FIXTURE}/config.json`, 'utf8')) as VggtConfigOverride & {
  frames: number;
  height: number;
  width: number;
};
const model = await openSafetensors(await fileSource(`${FIXTURE}/model.safetensors`));
const io = await openSafetensors(await fileSource(`${FIXTURE}/io.safetensors`));
const cfg = inferVggtConfig(model.tensors, json);
const [S, H, W] = [json.frames, json.height, json.width];
const ref = async (name: string) =>
  new Float64Array(new Uint8Array(await io.readRaw(name)).buffer, 0, io.tensors.get(name)!.numel);
const NAMES = ['pose_enc', 'depth', 'depth_conf', 'world_points', 'world_points_conf'] as const;
type Name = (typeof NAMES)[number];
type Outputs = Record<Name, Float32Array>;
const outputs = (r: VggtResult): Outputs => ({
  pose_enc: r.poseEnc!,
  depth: r.depth!,
  depth_conf: r.depthConf!,
  world_points: r.worldPoints!,
  world_points_conf: r.worldPointsConf!,
});
const refs = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await ref(n)] as const))) as Record<
  Name,
  Float64Array
>;
const images = { data: Float32Array.from(await ref('images')), S, H, W };
const specOf = (kind: 'depth' | 'point'): DptHeadSpec => ({
  kind,
  head: (kind === 'depth' ? cfg.depthHead : cfg.pointHead)!,
  dimIn: 2 * cfg.embedDim,
  patchSize: cfg.patchSize,
  patchStartIdx: cfg.patchStartIdx,
});

// 1. End to end: fp32, fp16 aggregator + fp32 heads, fp16 everything.
const fp32 = await Vggt.load(FIXTURE, { device: gpu });
const r32 = outputs(await fp32.run(images));
await fp32.dispose();
const fp16 = await Vggt.load(FIXTURE, { device: gpu, dtype: 'fp16' });
const r16 = outputs(await fp16.run(images));
await fp16.dispose();
let aggOnly: Outputs;
{
  const attention = await WgslAttention.create(ort, gpu);
  const agg = await Aggregator.create(model, cfg, { target, ort, attention, dtype: 'fp16' });
  const { layers } = await agg.run(images.data, { S, H, W }, { layers: [4, 11, 17, 23] }); // host float32
  await agg.dispose();
  await attention.dispose();
  const cam = await CameraHead.create(model, cfg.camera!, target, { ort });
  const depth = await DptHead.create(model, specOf('depth'), target, { ort });
  const points = await DptHead.create(model, specOf('point'), target, { ort });
  const d = await depth.run(layers, S, H, W);
  const p = await points.run(layers, S, H, W);
  aggOnly = {
    pose_enc: await cam.run(layers.get(23)!, S),
    depth: d.values,
    depth_conf: d.conf,
    world_points: p.values,
    world_points_conf: p.conf,
  };
  for (const h of [cam, depth, points]) await h.dispose();
}
const e2eRows = NAMES.map((n) => [
  n,
  e(relError(r32[n], refs[n])),
  e(relError(aggOnly[n], refs[n])),
  e(relError(r16[n], refs[n])),
  e(relError(r16[n], r32[n])),
]);

// 2. The heads alone in fp16 on the reference layers (float64 → float16 on the GPU), per choice of fp32 parts.
const halfLayers = new Map<number, Tensor>();
const buffers: GPUBuffer[] = [];
for (const l of [4, 11, 17, 23]) {
  const a = await io.read(`aggregated.${l}`);
  const buf = createStorageBuffer(gpu.device, toF16(a), `f16 layer ${l}`);
  buffers.push(buf);
  const P = io.tensors.get(`aggregated.${l}`)!.shape[1]!;
  halfLayers.set(l, ort.Tensor.fromGpuBuffer(buf, { dataType: 'float16', dims: [S, P, 2 * cfg.embedDim] }) as Tensor);
}
const partRows: (string | number)[][] = [];
const label = (parts: readonly string[], defaults: readonly string[]) =>
  `${parts.length ? parts.join(' + ') : 'none'}${parts.length === defaults.length && parts.every((x) => defaults.includes(x)) ? ' (default)' : ''}`;
const camVariants: CameraFp32Part[][] = [[], ['attention'], ['pose'], ['attention', 'pose']];
for (const parts of camVariants) {
  const cam = await CameraHead.create(model, cfg.camera!, target, { ort, dtype: 'fp16', fp32Parts: parts });
  const err = relError(await cam.run(halfLayers.get(23)!, S), refs.pose_enc);
  await cam.dispose();
  partRows.push(['camera', label(parts, CAMERA_FP32_PARTS), `pose_enc ${e(err)}`, '']);
  console.log(`fp16: camera fp32 parts [${parts}] pose_enc ${e(err)}`);
}
const dptVariants: DptFp32Part[][] = [[], ['activation'], ['output'], ['output', 'activation']];
for (const kind of ['depth', 'point'] as const) {
  const [vn, cn] =
    kind === 'depth' ? (['depth', 'depth_conf'] as const) : (['world_points', 'world_points_conf'] as const);
  for (const parts of dptVariants) {
    const head = await DptHead.create(model, specOf(kind), target, { ort, dtype: 'fp16', fp32Parts: parts });
    const out = await head.run(halfLayers, S, H, W);
    await head.dispose();
    const [ev, ec] = [relError(out.values, refs[vn]), relError(out.conf, refs[cn])];
    partRows.push([`${kind} (DPT)`, label(parts, DPT_FP32_PARTS), `${vn} ${e(ev)}`, `${cn} ${e(ec)}`]);
    console.log(`fp16: ${kind} fp32 parts [${parts}] ${vn} ${e(ev)} ${cn} ${e(ec)}`);
  }
}
for (const b of buffers) b.destroy();

// 3. What fp16 heads do to VGGT-1B's memory (the pre-flight's model, src/model/vggt/estimate.ts for the heads; computed).
const gb = (x: number) => (x / 1e9).toFixed(2);
const memRows = [1, 8, 32, 100].map((s) => {
  const [a, b] = (['fp32', 'fp16'] as const).map((dtype) =>
    estimateMemory(VGGT_1B_CONFIG, { S: s, H: 518, W: 518, dtype }),
  );
  const top = b!.stages.reduce((x, y) => (y.gpuBytes > x.gpuBytes ? y : x));
  return [
    String(s),
    gb(a!.gpuBytes),
    gb(b!.gpuBytes),
    top.stage,
    gb(b!.stages[0]!.gpuBytes),
    `${b!.largestBuffer.name} (${gb(b!.largestBuffer.bytes)})`,
    String(b!.input.framesChunk),
  ];
});

writeResults('fp16', {
  title: 'fp16 compute on the vggt-tiny fixture: per-tensor error against the float64 reference',
  device: gpu.name,
  tables: [
    {
      caption: `End to end (S = ${S}, ${H}×${W}; relative error max|got − ref| / max|ref|)`,
      header: [
        'tensor',
        'fp32 vs f64',
        'fp16 aggregator only (heads fp32) vs f64',
        'fp16 all (aggregator + heads) vs f64',
        'fp16 all vs fp32',
      ],
      rows: e2eRows,
    },
    {
      caption:
        'The heads alone in fp16 on the reference layers (float64 rounded to float16), by which parts compute in float32 (LayerNorms and Softmax always do)',
      header: ['head', 'float32 parts', 'values', 'confidence'],
      rows: partRows,
    },
    {
      caption: 'VGGT-1B at 518², dense, WebGPU: estimated peak GPU memory (GB = 1e9 bytes) with fp16 heads',
      header: [
        'S',
        'fp32 peak',
        'fp16 peak',
        'fp16 peak stage',
        'fp16 resident weights',
        'fp16 largest buffer',
        'fp16 DPT frames per run',
      ],
      rows: memRows,
    },
  ],
  notes: [
    "fp16 all is `Vggt.load(fixture, { dtype: 'fp16' })`: aggregator and heads in float16 (weights f16 on the GPU, no fp32 copy), the head layers handed over as float16 GPU tensors (no readback). fp16 aggregator only: the same aggregator, its layers read back as float32 and fed to fp32 heads.",
    "Camera parts: 'attention' = the trunk's q·kᵀ and probs·v (Softmax is float32 regardless), 'pose' = the pose branch's last Linear, the running pose sum over the 4 iterations and its embedding. DPT parts: 'output' = the last 1×1 conv (output_conv2.2), 'activation' = exp / inv_log / 1 + exp (a few channels at image size: float32 there costs next to nothing).",
    "The defaults follow this table: a part is kept in float32 only where it lowers the error. The DPT activations do (inv_log and exp amplify the float16 rounding of their input; and exp overflows float16 past 11.09); the camera head's parts and the DPT's last conv do not (their differences are at the level of float16 rounding noise).",
    'The tiny fixture has random weights at width 64 (one sample of inputs): differences below ~2× between variants are within rounding noise.',
    'Memory: fp16 heads hold their weights in float16 (1.13 GB → 0.56 GB at VGGT-1B), take the head layers from the aggregator as float16 GPU tensors and compute their maps in float16 (a DPT chunk of twice the frames in the same bytes). Before, fp16 at S = 1 was estimated at 3.27 GB (heads fp32, layers read back to the host); the layers now stay on the GPU, which costs GPU memory at large S (5 layers × S·P·2C·2 bytes: 0.9 GB at S = 32) and saves as much host memory.',
    'The bound the tests hold (test/gpu/model/vggt-fp16.test.ts, heads-fp16.test.ts): every output within 1e-2 of float64.',
  ],
  data: { e2e: e2eRows, parts: partRows, memory: memRows },
});
process.exit(0);
