#!/usr/bin/env node
/**
 * `npx hess-vggt <command>`: run, convert, eval, calibrate, co3d, probe, --help, --version (commands.ts; each
 * command has its own --help). Every error in the input is one line `error [CODE]: message — fix` and exit code 2.
 * dawn.node (Node's WebGPU) needs V8's optimizer off and onnxruntime-web's WebGPU EP needs Liftoff-only; the flags
 * are set here, before anything else is loaded (they cannot go in NODE_OPTIONS).
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--no-opt');
v8.setFlagsFromString('--liftoff-only');

/** The package version: the nearest package.json named hess-vggt above this file (dist/node/cli.js or src/cli). */
async function packageVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    const pkg = await readFile(new URL('package.json', dir), 'utf8').then(
      (t) => JSON.parse(t) as { name?: string; version?: string },
      () => null,
    );
    if (pkg?.name === 'hess-vggt' && pkg.version) return pkg.version;
    if (new URL('..', dir).href === dir.href) return 'unknown';
  }
}

async function main(argv: string[]): Promise<number> {
  const { runCli, consoleIo } = await import('./commands.js');
  return runCli(argv, consoleIo, await packageVersion());
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    // Not a HessError: a bug, so the stack is worth having.
    console.error(e);
    process.exit(1);
  },
);
