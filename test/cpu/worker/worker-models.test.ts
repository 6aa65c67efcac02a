// The worker's handler and proxies with real models, in one Node process over a MessageChannel (the structured clone
// and the transfer lists are real; the Chromium worker is test/runtimes/worker.test.ts): π³'s pi3-tiny fixture
// through ModelWorker gives bit for bit what a direct Pi3.run gives; the kind is detected and reported; VGGT's HeSS
// file and a π³ checkpoint are refused with typed errors that cross the boundary as HessErrors.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { plantedHess } from '../../../src/demo/lib.js';
import { HessError } from '../../../src/errors.js';
import { parseHessFile } from '../../../src/hess/hess-file.js';
import { Pi3 } from '../../../src/model/pi3/model.js';
import { ModelWorker, VggtWorker, type WorkerLike } from '../../../src/worker/worker-client.js';
import { attachVggtWorker, type WorkerScope } from '../../../src/worker/worker-handler.js';
import { havePi3Fixture, loadPi3Fixture, PI3_FIXTURE } from '../../fixtures/pi3-tiny.js';
import { expectCode } from '../../helpers/errors.js';
import { freshSeed, rng } from '../../helpers/random.js';

const VGGT_SYNTH = resolve(process.cwd(), 'models/vggt-synth'); // in the repo
const ports: MessagePort[] = [];
afterAll(() => {
  for (const p of ports) p.close();
});

/** A worker in this thread: the handler on one end of a MessageChannel, the proxy's WorkerLike on the other. */
function channelWorker(): WorkerLike {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  attachVggtWorker(port1 as unknown as WorkerScope);
  port1.start();
  port2.start();
  return {
    postMessage: (m, transfer) => port2.postMessage(m, transfer as never),
    addEventListener: (type, listener) => port2.addEventListener(type, listener as never),
    terminate: () => port2.close(),
  };
}

/** The 32-bit words of a float32 array: equal words = bit-identical floats (NaNs included). */
const words = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe.skipIf(!havePi3Fixture)('ModelWorker with π³ (pi3-tiny) and VGGT (vggt-synth), wasm EP', () => {
  it('loads π³ by detection, and its transferred result equals a direct Pi3.run bit for bit', async () => {
    const { S, H, W, ref } = await loadPi3Fixture();
    const images = { data: Float32Array.from(await ref('images')), S, H, W };
    const proxy = await ModelWorker.create(channelWorker());
    const stages: string[] = [];
    const kind = await proxy.load(PI3_FIXTURE, { device: 'wasm', onProgress: (e) => stages.push(e.stage) });
    expect(kind).toBe('pi3');
    expect([proxy.kind, proxy.ep, proxy.gpu]).toEqual(['pi3', 'wasm', null]);
    expect([proxy.config?.depth, proxy.config?.numHeads]).toEqual([18, 4]);
    expect(stages).toContain('weights');

    const direct = await Pi3.load(PI3_FIXTURE, { device: 'wasm' });
    try {
      const want = await direct.run(images);
      const got = await proxy.run(images);
      expect(got.kind).toBe('pi3');
      if (got.kind !== 'pi3') return;
      expect([got.S, got.H, got.W]).toEqual([S, H, W]);
      for (const k of ['points', 'localPoints', 'conf', 'cameraPoses'] as const) {
        expect(got[k], k).toBeInstanceOf(Float32Array);
        expect(got[k].length, k).toBe(want[k].length);
        expect(words(got[k]), k).toEqual(words(want[k]));
      }
      expect(got.sparsity).toBeNull();

      // A fresh random input too (not only the fixture's), as the house rules ask.
      const rand = rng(freshSeed('worker pi3 images'));
      const fresh = { data: Float32Array.from({ length: images.data.length }, rand), S, H, W };
      const [a, b] = [await direct.run(fresh), await proxy.run(fresh)];
      if (b.kind !== 'pi3') throw new Error(`expected a π³ result, got ${b.kind}`);
      for (const k of ['points', 'localPoints', 'conf', 'cameraPoses'] as const)
        expect(words(b[k]), `fresh ${k}`).toEqual(words(a[k]));

      // VGGT's HeSS file (models/vggt-synth/hess.json: 24 layers × 4 heads) is refused, as a HessError on the page.
      const vggtHess = parseHessFile(readFileSync(resolve(VGGT_SYNTH, 'hess.json'), 'utf8'));
      const e = await expectCode(proxy.run(images, { policy: 'hess', sparsity: 0.5, hess: vggtHess }), 'BAD_HESS_FILE');
      expect(e.fix.length).toBeGreaterThan(0);
      // …and so is a planted file marked as VGGT's even with π³'s 18 × 4 shape; π³'s own planted file passes the HeSS
      // check and stops only at the wasm EP's dense-only rule.
      await expectCode(proxy.run(images, { policy: 'hess', hess: plantedHess(18, 4, 'vggt') }), 'BAD_HESS_FILE');
      await expectCode(proxy.run(images, { policy: 'hess', hess: plantedHess(18, 4, 'pi3') }), 'INVALID_ARGUMENT');
      // the worker still runs after the refused requests
      const again = await proxy.run(images);
      if (again.kind !== 'pi3') throw new Error('expected a π³ result');
      expect(words(again.points)).toEqual(words(want.points));
    } finally {
      await direct.dispose();
      await proxy.dispose();
    }
  });

  it('detects VGGT too, and VggtWorker refuses a π³ checkpoint with BAD_CHECKPOINT', async () => {
    const proxy = await ModelWorker.create(channelWorker());
    expect(await proxy.load(VGGT_SYNTH, { device: 'wasm' })).toBe('vggt');
    const rand = rng(freshSeed('worker vggt images'));
    const r = await proxy.run({ data: Float32Array.from({ length: 3 * 14 * 28 }, rand), S: 1, H: 14, W: 28 });
    expect(r.kind).toBe('vggt');
    if (r.kind === 'vggt') expect(r.depth?.length).toBe(14 * 28);
    await proxy.dispose();

    const vggt = await VggtWorker.create(channelWorker());
    const err = await vggt.load(PI3_FIXTURE, { device: 'wasm' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HessError);
    expect((err as HessError).code).toBe('BAD_CHECKPOINT');
    console.info(`[worker] VggtWorker on π³: ${(err as HessError).message}`);
    expect(await vggt.load(VGGT_SYNTH, { device: 'wasm' })).toBe('vggt');
    expect(vggt.kind).toBe('vggt');
    await vggt.dispose();
  });
});
