// The body of `npm run demo` (scripts/demo.mjs starts it with --no-opt --liftoff-only and the Vulkan env):
// images → VGGT or π³ (whichever --model holds) dense and HeSS-sparse → a timing + agreement table,
// demo-out/scene.ply and demo-out/cameras.json.
import { mkdirSync, readFileSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const USAGE = `usage: npm run demo -- [--model <VGGT or π³ model.safetensors|dir>] [--images <files…>] [--hess <file.hess.json>]
       [--sparsity 0.5] [--policies dense,uniform,hess] [--size <px>] [--query-block n --key-block n]
       [--device webgpu|wasm] [--min-conf 0] [--out demo-out]
       npm run demo -- --serve [--port 8080]   (the browser demo page)`;

function parse(argv) {
  /** @type {{ images: string[], [option: string]: any }} */
  const o = { images: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    if (a === '--images') {
      while (argv[i + 1] && !argv[i + 1].startsWith('--')) o.images.push(argv[++i]);
      continue;
    }
    if (!a.startsWith('--') || argv[i + 1] === undefined) {
      console.error(`demo: unexpected argument ${a}\n${USAGE}`);
      process.exit(2);
    }
    o[a.slice(2)] = argv[++i];
  }
  return o;
}

function num(v, name, lo, hi) {
  const x = Number(v);
  if (!Number.isFinite(x) || x < lo || x >= hi) {
    console.error(`demo: --${name} must be a number in [${lo}, ${hi}), got ${v}`);
    process.exit(2);
  }
  return x;
}

/** Write every file to a temporary sibling first, then rename them all: a failure leaves no half-written output. */
function writeAll(files) {
  const temps = files.map(([file]) => `${file}.${process.pid}.tmp`);
  try {
    files.forEach(([, data], i) => writeFileSync(temps[i], data));
    files.forEach(([file], i) => renameSync(temps[i], file));
  } finally {
    for (const t of temps) rmSync(t, { force: true });
  }
}

function bar(label, p) {
  if (!process.stdout.isTTY) return;
  const w = 30;
  process.stdout.write(
    `\r  ${label.padEnd(10)} [${'#'.repeat(Math.round(p * w)).padEnd(w, '.')}] ${(p * 100).toFixed(0).padStart(3)}%`,
  );
  if (p >= 1) process.stdout.write('\n');
}

async function main() {
  const args = parse(process.argv.slice(2));
  const sdk = await import(`${root}dist/node/index.js`);
  const demo = await import(`${root}dist/demo/lib.js`);
  const { asVggtResult } = await import(`${root}dist/node/evaluate.js`);

  // The default model ships in the repo (models/vggt-synth, F16, ~8 MB), so a fresh clone needs nothing beside it.
  const bundled = resolve(root, 'models/vggt-synth');
  const modelPath = args.model ? resolve(args.model) : bundled;
  if (!existsSync(modelPath)) {
    console.error(
      `demo: no model at ${modelPath}\n  ${args.model ? 'check --model' : 'models/vggt-synth is part of the repo: restore it (git checkout -- models), or pass --model <VGGT-1B model.safetensors>'}`,
    );
    process.exit(1);
  }
  const outDir = resolve(args.out ?? 'demo-out');
  mkdirSync(outDir, { recursive: true });
  const sparsity = num(args.sparsity ?? 0.5, 'sparsity', 0, 1);

  // --- Model ------------------------------------------------------------------------------------------------------
  const wanted = args.device ?? 'auto';
  console.log(
    `demo: model ${modelPath}${modelPath === bundled ? ' (vggt-synth: tiny VGGT trained on synthetic scenes like the rendered one, F16 weights)' : ''}`,
  );
  const t0 = performance.now();
  // VGGT or π³, told apart by the tensor names; π³'s results are read in VGGT's form (asVggtResult) below.
  const model = await sdk.loadModel(modelPath, {
    device: wanted === 'auto' ? undefined : wanted,
    onProgress: (e) => {
      if (e.stage === 'weights') bar('weights', e.progress ?? 0);
    },
  });
  const loadMs = performance.now() - t0;
  const cfg = model.config;
  const gpu = model.target.ep === 'webgpu';
  if (model.kind === 'pi3') console.log('demo: π³ checkpoint (detected from its tensor names)');
  if (gpu)
    console.log(
      `demo: WebGPU on ${model.gpu.name} (shader-f16 ${model.gpu.features.shaderF16 ? 'yes' : 'no'}); loaded in ${loadMs.toFixed(0)} ms`,
    );
  else {
    const why = wanted === 'wasm' ? '--device wasm' : `no WebGPU (${(await sdk.probe()).reason ?? 'no adapter'})`;
    console.log(
      `demo: ${why} → running on onnxruntime-web's wasm EP (CPU), DENSE ONLY: block-sparse attention needs WebGPU. Loaded in ${loadMs.toFixed(0)} ms`,
    );
  }

  // --- Images -----------------------------------------------------------------------------------------------------
  const size = args.size ? num(args.size, 'size', 14, 1e5) : cfg.embedDim >= 1024 ? 518 : 98;
  if (size % cfg.patchSize) {
    console.error(`demo: --size must be a multiple of ${cfg.patchSize}`);
    process.exit(2);
  }
  let images, names;
  if (args.images.length) {
    images = await Promise.all(args.images.map((f) => sdk.decodeImageFile(f)));
    names = args.images;
    console.log(`demo: ${images.length} images from --images`);
  } else {
    // Render 2× the model size, so preprocessing's bicubic downscale sees real texture (and the PNGs look decent).
    const width = 2 * size,
      height = 2 * Math.round((size * 5) / 7 / cfg.patchSize) * cfg.patchSize;
    images = demo.renderSceneViews({ views: 3, width, height });
    mkdirSync(`${outDir}/views`, { recursive: true });
    const views = images.map((img, i) => {
      const png = new PNG({ width: img.width, height: img.height });
      png.data.set(img.data);
      return [`${outDir}/views/view_${i}.png`, PNG.sync.write(png)];
    });
    writeAll(views);
    names = views.map(([file]) => file);
    console.log(
      `demo: rendered 3 views of a synthetic scene (checkerboard floor, boxes, ball) → ${outDir}/views/view_{0,1,2}.png`,
    );
  }
  const pre = sdk.preprocessImages(images, { targetSize: size, mode: 'crop' });
  const input = { data: pre.data, S: pre.frames, H: pre.height, W: pre.width };
  const blocks = demo.autoBlocks(input.S, input.H, input.W, cfg.patchSize, cfg.patchStartIdx);
  if (args['query-block']) blocks.queryBlock = num(args['query-block'], 'query-block', 1, 1e6);
  if (args['key-block']) blocks.keyBlock = num(args['key-block'], 'key-block', 1, 1e6);
  const tokens = input.S * ((input.H / cfg.patchSize) * (input.W / cfg.patchSize) + cfg.patchStartIdx);
  console.log(
    `demo: input [${input.S}, 3, ${input.H}, ${input.W}] → ${tokens} global-attention tokens; blocks q${blocks.queryBlock}/k${blocks.keyBlock}`,
  );

  // --- HeSS file --------------------------------------------------------------------------------------------------
  let hess = null;
  let policies = (args.policies ?? 'dense,uniform,hess')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!gpu) policies = ['dense'];
  if (policies.some((p) => p === 'hess' || p === 'reverse')) {
    if (args.hess) {
      hess = sdk.parseHessFile(readFileSync(args.hess, 'utf8'));
      console.log(`demo: HeSS file ${args.hess} (${hess.modelId}, ${hess.calibration.scenes} calibration scenes)`);
    } else {
      // sized for this model, and marked as its own (π³ refuses VGGT's files and the other way round)
      hess = demo.plantedHess(cfg.depth, cfg.numHeads, model.kind);
      console.log(
        'demo: HeSS scores are PLANTED (deterministic pseudo-scores, not calibrated); pass --hess <file> for real ones (hess-vggt calibrate)',
      );
    }
  }

  // --- Runs -------------------------------------------------------------------------------------------------------
  const runOpts = (policy) => ({
    policy,
    sparsity: policy === 'dense' ? 0 : sparsity,
    hess: hess ?? undefined,
    ...blocks,
  });
  const t = performance.now();
  await model.run(input, runOpts('dense'));
  console.log(`demo: warm-up run (first-run compilation) ${(performance.now() - t).toFixed(0)} ms, not in the table`);
  const results = [];
  for (const policy of policies) {
    process.stdout.write(`demo: ${policy}${policy === 'dense' ? '' : ` ρ=${sparsity}`}… `);
    const r = asVggtResult(await model.run(input, runOpts(policy)));
    console.log(`${r.timings.total.toFixed(0)} ms`);
    results.push({ policy, r });
  }
  // Every row is compared with the dense run, whatever order --policies gave.
  const dense = results.find((x) => x.policy === 'dense')?.r ?? null;
  const rows = results.map(({ policy, r }) => demo.demoRow(policy, sparsity, r, dense));
  const { policy: lastPolicy, r: last } = results[results.length - 1];

  console.log(`\n${demo.markdownTable(rows)}\n`);
  console.log(
    `device: ${gpu ? model.gpu.name : 'wasm EP (CPU)'}; ρ = fraction of key blocks skipped in global attention (achieved counts every head, layer and query block);`,
  );
  console.log(
    `Δ = max|x − x_dense| / max|x_dense| over depth, world points and ${model.kind === 'pi3' ? 'camera poses' : 'pose encodings'}.`,
  );
  if (modelPath === bundled)
    console.log(
      'vggt-synth is a tiny model: the numbers show speed and agreement with dense; its reconstruction is rough.',
    );

  // --- Outputs ----------------------------------------------------------------------------------------------------
  const ply = sdk.pointCloudPly(last, { images: pre.data, minConf: Number(args['min-conf'] ?? 0) });
  writeAll([
    [`${outDir}/scene.ply`, ply],
    [`${outDir}/cameras.json`, JSON.stringify(sdk.camerasJson(last, names), null, 2)],
    [
      `${outDir}/results.json`,
      JSON.stringify(
        {
          device: gpu ? model.gpu.name : 'wasm',
          model: modelPath,
          kind: model.kind,
          input: [input.S, 3, input.H, input.W],
          blocks,
          rows,
        },
        null,
        2,
      ),
    ],
  ]);
  console.log(`demo: wrote ${outDir}/scene.ply (${lastPolicy} run), cameras.json and results.json`);
  await model.dispose();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e?.name === 'HessError' ? `demo: error [${e.code}]: ${e.message}` : e);
    process.exit(1);
  },
);
