// bench-flags: --liftoff-only
// The memory pre-flight's model (trunk: src/model/estimate/, VGGT's heads: src/model/vggt/estimate.ts, π³'s:
// src/model/pi3/estimate.ts): (1) its table for VGGT-1B and yyfz233/Pi3 at 518² and which rows fit in 8/16/24/80 GB,
// (2) the estimate of the wasm-heap and JS bytes against measured peaks on the wasm EP (tiny fixture and a mid-size
// random model, a couple of S each). Each measurement runs in its own Node process (a wasm heap never shrinks, so its
// final size is the run's peak).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { estimatePi3Memory, PI3_CONFIG } from '../src/model/pi3/estimate.js';
import type { MemoryEstimate } from '../src/model/estimate/types.js';
import { checkMemoryFit, estimateMemory, VGGT_1B_CONFIG } from '../src/model/vggt/estimate.js';
import { writeResults } from './lib.js';

const GiB = 2 ** 30;
const gib = (b: number) => (b / GiB).toFixed(2);

const VGGT_1B = VGGT_1B_CONFIG;

interface Measured {
  label: string;
  S: number;
  H: number;
  W: number;
  wasmHeap: number;
  ortBase: number;
  jsPeak: number;
  jsLive: number;
  jsBase: number;
  est: MemoryEstimate;
}

const caseArg = process.env.HESS_SCALE_CASE;
if (caseArg) await measureCase(JSON.parse(caseArg));
else await main();

async function main(): Promise<void> {
  // --- (1) VGGT-1B table ---
  const budgets = [8, 16, 24, 80];
  const rows: (string | number)[][] = [];
  const data: unknown[] = [];
  for (const S of [1, 8, 32, 100, 200]) {
    for (const dtype of ['fp32', 'fp16'] as const) {
      for (const policy of ['dense', 'hess'] as const) {
        const input = { S, H: 518, W: 518, dtype, policy, sparsity: 0.73 };
        const est = estimateMemory(VGGT_1B, input);
        const fitsIn = budgets.filter((g) => checkMemoryFit(VGGT_1B, input, { maxGpuBytes: g * 1e9 }).fits);
        const bind = [2, 4].map((g) => (est.largestBuffer.bytes <= g * GiB ? `≤${g}` : `>${g}`)).join(' ');
        const largestS = budgets.map(
          (g) =>
            checkMemoryFit(VGGT_1B, input, { maxGpuBytes: g * 1e9, maxStorageBufferBindingSize: 4 * GiB - 4 }).largestS,
        );
        rows.push([
          S,
          dtype,
          policy === 'hess' ? 'hess 0.73' : 'dense',
          gib(est.gpuBytes),
          `${gib(est.largestBuffer.bytes)} (${est.largestBuffer.name})`,
          bind,
          gib(est.hostBytes),
          fitsIn.length ? fitsIn.map((g) => `${g}`).join(', ') : 'none',
          largestS.join(' / '),
        ]);
        data.push({
          S,
          dtype,
          policy,
          gpuBytes: est.gpuBytes,
          largestBuffer: est.largestBuffer,
          hostBytes: est.hostBytes,
          wasmBytes: est.wasmBytes,
          fitsInGB: fitsIn,
          largestS,
        });
      }
    }
  }
  const per = estimateMemory(VGGT_1B, { S: 32, H: 518, W: 518 });
  const stageRows = per.stages.map((s) => [
    s.stage,
    gib(s.gpuBytes),
    `${gib(s.largestBuffer.bytes)} (${s.largestBuffer.name})`,
    gib(s.hostBytes),
    gib(s.wasmBytes),
  ]);

  // --- (1b) yyfz233/Pi3 table: trunk and heads ---
  const pi3Rows: (string | number)[][] = [];
  const pi3Data: unknown[] = [];
  for (const S of [1, 8, 32, 100]) {
    for (const [dtype, headsDtype] of [
      ['fp32', 'fp32'],
      ['fp16', 'fp16'],
      ['fp16', 'fp32'],
    ] as const) {
      const input = { S, H: 518, W: 518, dtype };
      const est = estimatePi3Memory(PI3_CONFIG, input, undefined, headsDtype);
      const fitAt = (limits: Parameters<typeof estimatePi3Memory>[2]) =>
        estimatePi3Memory(PI3_CONFIG, input, limits, headsDtype).fit!;
      const fitsIn = budgets.filter((g) => fitAt({ maxGpuBytes: g * 1e9 }).fits);
      const largestS = budgets.map(
        (g) => fitAt({ maxGpuBytes: g * 1e9, maxStorageBufferBindingSize: 4 * GiB - 4 }).largestS,
      );
      const peak = est.stages.reduce((a, s) => (s.gpuBytes > a.gpuBytes ? s : a));
      const heads = est.stages.find((s) => s.stage === 'heads')!;
      const headW = est.stages[0]!.terms.find((t) => /π³ head weights/.test(t.name))!.bytes;
      pi3Rows.push([
        S,
        dtype,
        headsDtype,
        gib(est.gpuBytes),
        peak.stage,
        gib(headW),
        gib(heads.gpuBytes),
        Math.min(est.input.framesChunk, S),
        `${gib(est.largestBuffer.bytes)} (${est.largestBuffer.name})`,
        gib(est.hostBytes),
        fitsIn.length ? fitsIn.map((g) => `${g}`).join(', ') : 'none',
        largestS.join(' / '),
      ]);
      pi3Data.push({
        S,
        dtype,
        headsDtype,
        gpuBytes: est.gpuBytes,
        peakStage: peak.stage,
        headWeightBytes: headW,
        headsStageGpuBytes: heads.gpuBytes,
        framesChunk: Math.min(est.input.framesChunk, S),
        largestBuffer: est.largestBuffer,
        hostBytes: est.hostBytes,
        fitsInGB: fitsIn,
        largestS,
      });
    }
  }

  // --- (2) estimate vs measured on the wasm EP ---
  const cases: { model: 'tiny' | 'mid'; S: number; H: number; W: number }[] = [];
  if (existsSync('../shared/fixtures/vggt-tiny/model.safetensors'))
    cases.push({ model: 'tiny', S: 2, H: 70, W: 98 }, { model: 'tiny', S: 16, H: 70, W: 98 });
  const midS = (process.env.HESS_SCALE_MID_S ?? '2,4').split(',').map(Number);
  for (const S of midS) cases.push({ model: 'mid', S, H: 224, W: 224 });
  const measured: Measured[] = [];
  for (const c of cases) {
    const r = spawnSync(process.execPath, ['--liftoff-only', '--expose-gc', process.argv[1]!], {
      env: { ...process.env, HESS_SCALE_CASE: JSON.stringify(c) },
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) {
      console.error(`case ${JSON.stringify(c)} failed:\n${r.stdout}\n${r.stderr}`);
      continue;
    }
    measured.push(JSON.parse(line.slice(7)));
  }
  const mb = (b: number) => (b / 1e6).toFixed(1);
  const measRows = measured.map((m) => {
    const heapRun = m.wasmHeap - m.ortBase;
    const jsRun = m.jsPeak - m.jsBase,
      jsLive = m.jsLive - m.jsBase;
    return [
      m.label,
      m.S,
      `${m.H}×${m.W}`,
      mb(m.est.wasmBytes),
      mb(heapRun),
      (heapRun / m.est.wasmBytes).toFixed(2),
      mb(m.est.hostBytes),
      mb(jsRun),
      mb(jsLive),
      (jsLive / m.est.hostBytes).toFixed(2),
    ];
  });

  writeResults('scale-estimate', {
    title:
      'Memory pre-flight: the estimate for VGGT-1B and yyfz233/Pi3 at 518², and the estimate against measured peaks (wasm EP)',
    tables: [
      {
        caption:
          'VGGT-1B at 518×518 (computed, WebGPU EP with WGSL global attention): peak GPU memory, largest single buffer, host (JS) bytes, which budgets fit, largest S per budget (with a 4 GiB binding limit)',
        header: [
          'S',
          'dtype',
          'policy',
          'GPU peak GiB',
          'largest buffer GiB',
          'vs 2/4 GiB binding',
          'host GiB',
          'fits in (GB)',
          'largest S at 8/16/24/80 GB',
        ],
        rows,
      },
      {
        caption: 'VGGT-1B, S = 32, 518², fp32 dense: per stage (GiB)',
        header: ['stage', 'GPU peak', 'largest buffer', 'host', 'wasm heap'],
        rows: stageRows,
      },
      {
        caption:
          "yyfz233/Pi3 at 518×518 (computed, WebGPU EP, WGSL global attention, dense): peak GPU memory and its stage, the heads' weights, the heads stage's peak, frames per head run, largest buffer, host bytes, which budgets fit, largest S per budget (4 GiB binding limit)",
        header: [
          'S',
          'dtype',
          'heads',
          'GPU peak GiB',
          'peak stage',
          'head weights GiB',
          'heads stage GiB',
          'frames/head run',
          'largest buffer GiB',
          'host GiB',
          'fits in (GB)',
          'largest S at 8/16/24/80 GB',
        ],
        rows: pi3Rows,
      },
      {
        caption:
          "Estimate vs measured on the wasm EP (MB; wasm heap above ORT's own base, JS ArrayBuffers above the pre-load base)",
        header: [
          'model',
          'S',
          'H×W',
          'est. wasm heap',
          'measured heap',
          'measured/est.',
          'est. host',
          'measured JS (incl. garbage)',
          'measured JS live',
          'live/est.',
        ],
        rows: measRows,
      },
    ],
    notes: [
      "fp16: the aggregator's and the camera and DPT heads' weights and activations are float16 (WebGPU with shader-f16; LayerNorm, Softmax and the DPT activations in fp32); the head layers go from the aggregator to the heads as float16 GPU tensors.",
      'Chunks are planned from the per-tensor limit L = 2 GiB (the estimate\'s WebGPU default): token rows n = ⌊L/(4·max(3C, M))⌋ = 131072 per pre/post segment run, DPT heads ⌊min(L, 1 GiB)/dptFrameBytes⌋ frames per run at 518² (7 in fp32, 15 in fp16). DINO and frame attention are the WGSL flash kernel: no [S, H, T, T] scores. What bounds S against a binding is the attention cores\' whole [S·1374, 1024] tensors, counted at 4 bytes/element: S ≤ 381 at 2 GiB, 763 at 4 GiB. "fits in" counts the total against the budget.',
      'The model counts ORT intermediates unfused (bias-add after MatMul, GELU as Mul/Erf/Add/Mul: 3 [N, M] tensors alive) and every tensor once at its widest op. Measured/est. below 1 means ORT fused or reused more than the model assumes; the pre-flight errs on the safe side there.',
      'Measured wasm heap: the size of the WebAssembly.Memory onnxruntime-web instantiates (it never shrinks, so its size after the run is the peak) less its size after a trivial session; JS: process.memoryUsage().arrayBuffers sampled at every progress event (and every weight read), less its value before Vggt.load; "live" samples after a forced GC (garbage the GC has not yet collected is real memory, but not what the model counts; the samples miss peaks inside a stage).',
      "π³: the trunk as VGGT's (encoder, 18 frame/global pairs, 5 register tokens); the heads (three 5-block decoders 2048 → 1024, 200.8 M parameters) hold their weights as graph inputs and run ⌊min(L, 1 GiB)/(16·T²·4)⌋ = 8 frames per run at 518², whose widest op is a decoder block's Softmax: [8, 16, 1374, 1374] float32 scores and probabilities, 0.9 GiB each (always float32: the attention computes in float32). heads 'fp16' is how π³ runs with dtype 'fp16' (weights and activations float16, the last layer handed over on the GPU); heads 'fp32' after an fp16 trunk is how it ran before its heads had an fp16 path (its layer read back to the host, float32 heads), kept for comparison.",
      'mid = a random VGGT-shaped model (bench/random-vggt.ts) of width 256, 8 heads, 24 frame + 24 global blocks, 2 DINO blocks, camera + point heads (features 64).',
    ],
    data: {
      vggt1b: data,
      pi3: pi3Data,
      perStage: per.stages.map(({ terms: _t, ...s }) => s),
      measured: measured.map(({ est, ...m }) => ({ ...m, estWasm: est.wasmBytes, estHost: est.hostBytes })),
    },
  });
}

async function measureCase(c: { model: 'tiny' | 'mid'; S: number; H: number; W: number }): Promise<void> {
  // Record every wasm memory created from now on (onnxruntime-web's heap is the largest).
  const mems = new Set<WebAssembly.Memory>();
  const W0 = WebAssembly as unknown as Record<string, unknown>;
  W0.Memory = new Proxy(WebAssembly.Memory, {
    construct(t, a) {
      const m = Reflect.construct(t, a) as WebAssembly.Memory;
      mems.add(m);
      return m;
    },
  });
  const inst = WebAssembly.instantiate;
  W0.instantiate = async (...a: unknown[]) => {
    const r = await (inst as (...x: unknown[]) => Promise<{ instance?: WebAssembly.Instance }>)(...a);
    const m = ((r.instance ?? r) as WebAssembly.Instance).exports?.memory;
    if (m instanceof WebAssembly.Memory) mems.add(m);
    return r;
  };
  const heap = () => Math.max(0, ...[...mems].map((m) => m.buffer.byteLength));
  const { Vggt } = await import('../src/model/vggt/model.js');
  const { loadOrt, createSession } = await import('../src/runtime/ort.js');
  const { Graph } = await import('../src/onnx/builder.js');
  const { randomVggtCheckpoint } = await import('./random-vggt.js');
  const ort = await loadOrt({ numThreads: 1 });
  // ORT's own base: the heap after one trivial session
  const g = new Graph('id');
  g.output(g.op('Identity', [g.input('x', 'float32', [1])])[0], 'float32', [1], 'y');
  const s0 = await createSession(ort, g.toModel({ opset: 17 }).model, { ep: 'wasm' });
  await s0.run({ x: new ort.Tensor('float32', new Float32Array(1), [1]) });
  await s0.release();
  const ortBase = heap();
  let src: string | Uint8Array = '../shared/fixtures/vggt-tiny';
  let config: Record<string, unknown> | undefined;
  if (c.model === 'mid') {
    const m = randomVggtCheckpoint({
      dim: 256,
      heads: 8,
      depth: 24,
      dinoDepth: 2,
      predictionHeads: { cameraHeads: 8, trunkDepth: 4, features: 64, outChannels: [32, 64, 128, 128] },
    });
    src = m.bytes;
    config = m.config;
  }
  const ab = () => process.memoryUsage().arrayBuffers;
  (globalThis as { gc?: () => void }).gc?.(); // the base without earlier garbage
  const jsBase = ab();
  let jsPeak = jsBase,
    jsLive = jsBase;
  const gc = (globalThis as { gc?: () => void }).gc;
  const sample = () => {
    jsPeak = Math.max(jsPeak, ab());
    if (gc) {
      gc();
      jsLive = Math.max(jsLive, ab());
    }
  };
  const model = await Vggt.load(src, { device: 'wasm', numThreads: 1, config: config as never, onProgress: sample });
  const images = new Float32Array(c.S * 3 * c.H * c.W).map((_, i) => ((i * 2654435761) >>> 0) / 2 ** 32);
  await model.run({ data: images, S: c.S, H: c.H, W: c.W }, { onProgress: sample });
  sample();
  const est = model.estimate({ S: c.S, H: c.H, W: c.W });
  const out: Measured = {
    label: c.model,
    S: c.S,
    H: c.H,
    W: c.W,
    wasmHeap: heap(),
    ortBase,
    jsPeak,
    jsLive,
    jsBase,
    est,
  };
  console.log(`RESULT ${JSON.stringify({ ...out, est: { wasmBytes: est.wasmBytes, hostBytes: est.hostBytes } })}`);
  await model.dispose();
}
