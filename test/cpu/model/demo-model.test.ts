// models/vggt-synth, the demo's default model shipped in the repo: F16 weights of the shared vggt-synth fixture,
// byte for byte what `convert --fp16 --no-segments` makes of it (checked where ../shared is present), and within
// float16 rounding of the fixture's float32 weights.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertCheckpoint } from '../../../src/model/convert/convert.js';
import { fileSource, openSafetensors } from '../../../src/model/source/safetensors.js';

const SHIPPED = resolve(process.cwd(), 'models/vggt-synth');
const FIXTURE = resolve(process.cwd(), '../shared/fixtures/vggt-synth');
const haveFixture = existsSync(join(FIXTURE, 'model.safetensors'));
if (!haveFixture) console.warn(`[skip] the vggt-synth fixture is missing at ${FIXTURE}: provenance checks skipped`);

const tmp = mkdtempSync(join(tmpdir(), 'hess-demo-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('models/vggt-synth (demo default)', () => {
  it('is an F16 checkpoint of at most 10 MB with its config.json', async () => {
    const file = join(SHIPPED, 'model.safetensors');
    expect(statSync(file).size).toBeLessThanOrEqual(10 * 2 ** 20);
    const st = await openSafetensors(await fileSource(file));
    const dtypes = new Set([...st.tensors.values()].map((t) => t.dtype));
    await st.close();
    expect([...dtypes]).toEqual(['F16']);
    expect([...st.tensors.keys()].some((n) => n.startsWith('track_head.'))).toBe(false);
    const cfg = JSON.parse(readFileSync(join(SHIPPED, 'config.json'), 'utf8'));
    expect([cfg.embed_dim, cfg.num_heads, cfg.depth, cfg.weights_dtype]).toEqual([64, 4, 24, 'float16']);
  });

  it.runIf(haveFixture)('is byte-identical to a fresh conversion of ../shared/fixtures/vggt-synth', async () => {
    const out = join(tmp, 'synth');
    await convertCheckpoint(FIXTURE, out, { fp16: true, skipSegments: true });
    for (const f of ['model.safetensors', 'config.json']) {
      expect(readFileSync(join(out, f)).equals(readFileSync(join(SHIPPED, f))), f).toBe(true);
    }
  });

  it.runIf(haveFixture)(
    'holds the fixture’s weights to float16 rounding (relative error ≤ 2^-11 per element)',
    async () => {
      const shipped = await openSafetensors(await fileSource(join(SHIPPED, 'model.safetensors')));
      const ref = await openSafetensors(await fileSource(join(FIXTURE, 'model.safetensors')));
      let worst = 0,
        checked = 0;
      for (const name of shipped.tensors.keys()) {
        const [a, b] = [await shipped.read(name), await ref.read(name)];
        expect(a.length, name).toBe(b.length);
        for (let i = 0; i < a.length; i++) {
          // normal f16 range: relative 2^-11; below 2^-14 (subnormals) the absolute step is 2^-25
          const err = Math.abs(a[i] - b[i]);
          const bound = Math.max(Math.abs(b[i]) * 2 ** -11, 2 ** -25);
          worst = Math.max(worst, err / bound);
        }
        checked++;
      }
      await shipped.close();
      await ref.close();
      expect(checked).toBe(shipped.tensors.size);
      expect(worst).toBeLessThanOrEqual(1);
    },
  );
});
