#!/usr/bin/env node
/**
 * `npx hess-vggt <command>`:
 *   run <images…> --model <file|dir> --out <scene.ply> [--device webgpu|wasm] [--mode crop|pad] [--min-conf x]
 *   convert <model.safetensors|dir> <outdir> [--fp16]        (commands.ts)
 *   eval --model <dir> --data <dir> [--policies …] [--sparsity …] [--hess hess.json] [--out <dir>]   (commands.ts)
 *   co3d <co3d-root> <outdir> --categories …                  (commands.ts)
 *   probe, --help
 * dawn.node (Node's WebGPU) needs V8's optimizer off and onnxruntime-web's WebGPU EP needs Liftoff-only; the flags
 * are set here, before anything else is loaded (they cannot go in NODE_OPTIONS).
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--no-opt');
v8.setFlagsFromString('--liftoff-only');


function bar(stage: string, p?: number): void {
  if (!process.stderr.isTTY && p !== undefined && p < 1) return;
  const w = 30;
  const fill = p === undefined ? '' : '#'.repeat(Math.round(p * w)).padEnd(w, '.');
  process.stderr.write(`\r${stage.padEnd(12)} ${p === undefined ? '' : `[${fill}] ${(p * 100).toFixed(0).padStart(3)}%`}   `);
  if (p === undefined || p >= 1) process.stderr.write('\n');
}

async function main(argv: string[]): Promise<number> {
  const { parseArgs } = await import('node:util');
  const { writeFile } = await import('node:fs/promises');
  const { USAGE, HELP, convertCommand, evalCommand, co3dCommand, calibrateCommand } = await import('./commands');
  const cmd = argv[0];
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(HELP);
    return 0;
  }
  if (cmd === 'convert') return convertCommand(argv.slice(1));
  if (cmd === 'eval') return evalCommand(argv.slice(1));
  if (cmd === 'co3d') return co3dCommand(argv.slice(1));
  if (cmd === 'calibrate') return calibrateCommand(argv.slice(1));
  const sdk = await import('../index');
  if (cmd === 'probe') {
    console.log(JSON.stringify(await sdk.probe(), null, 2));
    return 0;
  }
  if (cmd === 'run') {
    const { values, positionals } = parseArgs({
      args: argv.slice(1), allowPositionals: true,
      options: { model: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' }, mode: { type: 'string' }, 'min-conf': { type: 'string' } },
    });
    if (!values.model || !values.out || positionals.length === 0) {
      console.error(USAGE);
      return 2;
    }
    const device = (values.device ?? 'webgpu') as 'webgpu' | 'wasm';
    const model = await sdk.Vggt.load(values.model, {
      device,
      onProgress: (e) => (e.stage === 'weights' ? bar('weights', e.progress) : e.stage === 'ready' ? bar('ready') : undefined),
    });
    const images = await Promise.all(positionals.map((p) => sdk.decodeImageFile(p)));
    const pre = sdk.preprocessImages(images, { mode: (values.mode ?? 'crop') as 'crop' | 'pad' });
    const r = await model.run({ data: pre.data, S: pre.frames, H: pre.height, W: pre.width }, { onProgress: (e) => bar(e.stage) });
    const ply = sdk.pointCloudPly(r, { images: pre.data, minConf: Number(values['min-conf'] ?? 0) });
    await writeFile(values.out, ply);
    const camPath = values.out.replace(/\.ply$/i, '') + '.cameras.json';
    await writeFile(camPath, JSON.stringify(sdk.camerasJson(r, positionals), null, 2));
    console.log(`wrote ${values.out} and ${camPath} (${r.S} frames ${r.W}×${r.H}, ${model.target.ep}, ${r.timings.total.toFixed(0)} ms)`);
    await model.dispose();
    return 0;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e?.name === 'HessError' ? `error [${e.code}]: ${e.message}` : e);
    process.exit(1);
  },
);
