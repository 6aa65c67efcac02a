// npm test: build, then run every vitest project (cpu, gpu, runtimes) with the software Vulkan driver chosen by
// gpu-env.mjs, and end with the plain `N passed, N failed, N skipped` line CI reads.
// Extra arguments go to vitest (e.g. `npm test -- test/gpu/matmul.test.ts`).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gpuEnv } from './gpu-env.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = gpuEnv();
console.log(
  `test: Vulkan driver for WebGPU = ${env.HESS_VULKAN}${env.VK_ICD_FILENAMES ? ` (${env.VK_ICD_FILENAMES})` : ''}`,
);

if (!process.env.HESS_SKIP_BUILD) {
  const b = spawnSync(process.execPath, [`${root}scripts/build.mjs`], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

mkdirSync(`${root}test-results`, { recursive: true });
const report = `${root}test-results/vitest-${process.pid}.json`; // per run: concurrent runs must not share it
const t0 = Date.now();
const r = spawnSync(
  process.execPath,
  [
    `${root}node_modules/vitest/vitest.mjs`,
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: 'inherit', env },
);

let passed = 0,
  failed = 0,
  skipped = 0;
const perProject = {};
try {
  const j = JSON.parse(readFileSync(report, 'utf8'));
  for (const file of j.testResults ?? []) {
    const project = file.name.replace(root, '').split('/')[1] ?? '?';
    const p = (perProject[project] ??= { passed: 0, failed: 0, skipped: 0 });
    for (const t of file.assertionResults ?? []) {
      if (t.status === 'passed') {
        passed++;
        p.passed++;
      } else if (t.status === 'failed') {
        failed++;
        p.failed++;
      } else {
        skipped++;
        p.skipped++;
      }
    }
    // A file that failed to load has no assertions but must still count as a failure.
    if ((file.assertionResults ?? []).length === 0 && file.status === 'failed') {
      failed++;
      p.failed++;
    }
  }
} catch (e) {
  console.error(`test: cannot read ${report}: ${e instanceof Error ? e.message : e}`);
  failed++;
}
for (const [k, v] of Object.entries(perProject))
  console.log(`test: ${k}: ${v.passed} passed, ${v.failed} failed, ${v.skipped} skipped`);
console.log(`test: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(r.status !== 0 || failed > 0 ? 1 : 0);
