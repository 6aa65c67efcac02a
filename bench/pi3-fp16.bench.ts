// bench-flags: --no-opt --liftoff-only
// fp16 π³ on the pi3-tiny fixture (../shared/fixtures/pi3-tiny) against its float64 reference, per output: end to
// end (fp32; the encoder + decoder in fp16 with fp32 heads on its layer read back; everything in fp16, what
// `Pi3.load(…, { dtype: 'fp16' })` runs), then the heads alone in fp16 on the reference's head input (float64
// rounded to float16, as a float16 GPU tensor) with each choice of float32 parts: what PI3_FP32_PARTS keeps in fp32
// is measured here. Errors are max|got − ref| / max|ref| per tensor. Writes bench/results/pi3-fp16.md.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Tensor } from 'onnxruntime-web';
import { toF16 } from '../src/attention/f16.js';
import { createStorageBuffer } from '../src/gpu/buffers.js';
import { createDevice } from '../src/gpu/device.js';
import { PI3_FP32_PARTS, type Pi3Fp32Part } from '../src/model/pi3/heads-graph.js';
import { type Pi3HeadOutputs, Pi3Heads, type Pi3HeadsConfig } from '../src/model/pi3/heads.js';
import { inferPi3Config, type Pi3ConfigOverride } from '../src/model/pi3/config.js';
import { Pi3, type Pi3Result } from '../src/model/pi3/model.js';
import { createPi3Trunk } from '../src/model/pi3/trunk.js';
import { fileSource, openSafetensors } from '../src/model/source/safetensors.js';
import { loadOrt } from '../src/runtime/ort.js';
import { WgslAttention } from '../src/runtime/wgsl-attention.js';
import { writeResults } from './lib.js';
import { relError } from './rel-error.js';
import { readFile } from 'node:fs/promises';

const FIXTURE = resolve(process.cwd(), '../shared/fixtures/pi3-tiny');
if (!existsSync(`${FIXTURE}/model.safetensors`)) {
  console.log(`pi3-fp16: ${FIXTURE} is absent; nothing to measure`);
  process.exit(0);
}

const e = (x: number) => x.toExponential(2);

const gpu = await createDevice();
if (!gpu.features.shaderF16) {
  console.log(`pi3-fp16: ${gpu.name} has no shader-f16; nothing to measure`);
  process.exit(0);
}
const ort = await loadOrt();
const target = { ep: 'webgpu' as const, gpu };
const json = JSON.parse(await readFile(`${FIXTURE}/config.json`, 'utf8')) as Pi3ConfigOverride & Record<string, number>;
const model = await openSafetensors(await fileSource(`${FIXTURE}/model.safetensors`));
const io = await openSafetensors(await fileSource(`${FIXTURE}/io.safetensors`));
const cfg = inferPi3Config(model.tensors, json);
const [S, H, W] = [json.frames!, json.height!, json.width!];
const ref = async (name: string) =>
  new Float64Array(new Uint8Array(await io.readRaw(name)).buffer, 0, io.tensors.get(name)!.numel);
const NAMES = [
  ['points', 'points'],
  ['localPoints', 'local_points'],
  ['conf', 'conf'],
  ['cameraPoses', 'camera_poses'],
] as const;
type Key = (typeof NAMES)[number][0];
type Outputs = Record<Key, Float32Array>;
const refs = Object.fromEntries(await Promise.all(NAMES.map(async ([k, n]) => [k, await ref(n)] as const))) as Record<
  Key,
  Float64Array
>;
const pick = (r: Pi3Result | Pi3HeadOutputs): Outputs => ({
  points: r.points,
  localPoints: r.localPoints,
  conf: r.conf,
  cameraPoses: r.cameraPoses,
});
const headsConfig: Pi3HeadsConfig = {
  heads: cfg.headHeads,
  registers: cfg.numRegisterTokens,
  patchSize: cfg.patchSize,
  ropeFreq: cfg.ropeBase,
};
const images = { data: Float32Array.from(await ref('images')), S, H, W };

// 1. End to end: fp32, fp16 trunk + fp32 heads, fp16 everything.
const m32 = await Pi3.load(FIXTURE, { device: gpu });
const r32 = pick(await m32.run(images));
await m32.dispose();
const m16 = await Pi3.load(FIXTURE, { device: gpu, dtype: 'fp16' });
const r16 = pick(await m16.run(images));
await m16.dispose();
let trunkOnly: Outputs;
{
  const attention = await WgslAttention.create(ort, gpu);
  const trunk = await createPi3Trunk(model, cfg, { target, ort, attention, dtype: 'fp16' });
  const last = cfg.depth - 1;
  const { layers } = await trunk.run(images.data, { S, H, W }, { layers: [last] }); // host float32
  await trunk.dispose();
  await attention.dispose();
  const heads = await Pi3Heads.create(model, headsConfig, target, { ort });
  trunkOnly = pick(await heads.run(layers.get(last)!, S, H, W));
  await heads.dispose();
}
const e2eRows = NAMES.map(([k, n]) => [
  n,
  e(relError(r32[k], refs[k])),
  e(relError(trunkOnly[k], refs[k])),
  e(relError(r16[k], refs[k])),
  e(relError(r16[k], r32[k])),
]);

// 2. The heads alone in fp16 on the reference head input, cat(decoder.34, decoder.35) rounded to float16.
const [a, b] = [await ref('decoder.34'), await ref('decoder.35')];
const [, T, C] = io.tensors.get('decoder.34')!.shape as [number, number, number];
const hidden = new Float32Array(S * T * 2 * C);
for (let t = 0; t < S * T; t++) {
  for (let c = 0; c < C; c++) {
    hidden[t * 2 * C + c] = a[t * C + c]!;
    hidden[t * 2 * C + C + c] = b[t * C + c]!;
  }
}
const buf = createStorageBuffer(gpu.device, toF16(hidden), 'f16 pi3 hidden');
const half = ort.Tensor.fromGpuBuffer(buf, { dataType: 'float16', dims: [S, T, 2 * C] }) as Tensor;
const heads32 = await Pi3Heads.create(model, headsConfig, target, { ort });
const h32 = pick(await heads32.run(hidden, S, H, W));
await heads32.dispose();
const variants: Pi3Fp32Part[][] = [
  [],
  ['attention'],
  ['output'],
  ['activation'],
  ['camera'],
  ['activation', 'camera'],
  ['attention', 'output', 'activation', 'camera'],
];
const label = (parts: readonly string[]) =>
  `${parts.length ? parts.join(' + ') : 'none'}${parts.length === PI3_FP32_PARTS.length && parts.every((x) => PI3_FP32_PARTS.includes(x as Pi3Fp32Part)) ? ' (default)' : ''}`;
const partRows: string[][] = [
  ['fp32 heads (reference input in float32)', ...NAMES.map(([k]) => e(relError(h32[k], refs[k])))],
];
for (const parts of variants) {
  const heads = await Pi3Heads.create(model, headsConfig, target, { ort, dtype: 'fp16', fp32Parts: parts });
  const out = pick(await heads.run(half, S, H, W));
  await heads.dispose();
  const errs = NAMES.map(([k]) => e(relError(out[k], refs[k])));
  partRows.push([label(parts), ...errs]);
  console.log(`pi3-fp16: fp32 parts [${parts}] ${errs.join(' ')}`);
}
buf.destroy();

// 3. A larger image (more patches for the attention and the camera head's mean): fixture-like inputs (reference
// rows of the head input plus noise) at 252×252, fp16 heads against the same heads in fp32.
const sizeRows: string[][] = [];
{
  const [S2, H2, W2] = [2, 252, 252];
  const T2 = cfg.numRegisterTokens + (H2 / cfg.patchSize) * (W2 / cfg.patchSize);
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const x = new Float32Array(S2 * T2 * 2 * C);
  for (let t = 0; t < S2 * T2; t++) {
    const src = Math.floor(rand() * S * T);
    for (let c = 0; c < 2 * C; c++) x[t * 2 * C + c] = hidden[src * 2 * C + c]! + 0.1 * (rand() * 2 - 1);
  }
  const base = await Pi3Heads.create(model, headsConfig, target, { ort });
  const want = pick(await base.run(x, S2, H2, W2));
  await base.dispose();
  for (const parts of variants) {
    const heads = await Pi3Heads.create(model, headsConfig, target, { ort, dtype: 'fp16', fp32Parts: parts });
    const out = pick(await heads.run(x, S2, H2, W2));
    await heads.dispose();
    const errs = NAMES.map(([k]) => e(relError(out[k], want[k])));
    sizeRows.push([label(parts), ...errs]);
    console.log(`pi3-fp16: ${H2}×${W2} fp32 parts [${parts}] ${errs.join(' ')}`);
  }
}

writeResults('pi3-fp16', {
  title: 'fp16 π³ on the pi3-tiny fixture: per-output error against the float64 reference',
  device: gpu.name,
  tables: [
    {
      caption: `End to end (S = ${S}, ${H}×${W}; relative error max|got − ref| / max|ref|)`,
      header: [
        'output',
        'fp32 vs f64',
        'fp16 trunk only (heads fp32) vs f64',
        'fp16 all (trunk + heads) vs f64',
        'fp16 all vs fp32',
      ],
      rows: e2eRows,
    },
    {
      caption:
        'The heads alone in fp16 on the reference head input (float64 rounded to float16), by which parts compute in float32 (LayerNorms and Softmax always do)',
      header: ['float32 parts', ...NAMES.map(([, n]) => n)],
      rows: partRows,
    },
    {
      caption:
        'The heads alone at 252×252 (S = 2, T = 329 tokens a frame) on fixture-like inputs, fp16 vs the same heads in fp32, by float32 parts',
      header: ['float32 parts', ...NAMES.map(([, n]) => n)],
      rows: sizeRows,
    },
  ],
  notes: [
    "fp16 all is `Pi3.load(fixture, { dtype: 'fp16' })`: encoder, decoder and heads in float16 (weights f16 on the GPU, no fp32 copy), the decoder's last layer handed to the heads as a float16 GPU tensor (no readback). fp16 trunk only: the same trunk, its layer read back as float32 and fed to fp32 heads (what `dtype: 'fp16'` ran before).",
    "Parts: 'attention' = the head decoders' q·kᵀ and probs·v (the Softmax is float32 regardless), 'output' = the point and conf heads' Linear before the pixel shuffle, 'activation' = the point head's exp(z) and xy·exp(z), 'camera' = the camera head's residual MLPs, mean over patches and MLPs (pose_raw; the SVD runs in float64 on the host either way).",
    'The tiny fixture has random weights at width 64 (one sample of inputs): differences below ~2× between variants are within rounding noise.',
    "The defaults (PI3_FP32_PARTS) follow these tables: 'activation' as a guard against exp overflowing float16 (free: 3 channels at image size), 'camera' because its pose goes through an SVD and it lowered camera_poses' error on the fixture (1.5×) and, in a one-off run of table 3's method at 70×98, 3× (7.6e-3 → 2.4e-3); at 518×518 (T = 1374) that run found no part lowering any error beyond 2× (all ≤ 4.5e-3 vs fp32 heads), so the mean over many patches in float16 is not a problem. 'attention' and 'output' lower nothing beyond noise and stay float16.",
    'The bound the tests hold (test/gpu/model/pi3-fp16.test.ts): every output within 1e-2 of float64.',
  ],
  data: { e2e: e2eRows, parts: partRows },
});
process.exit(0);
