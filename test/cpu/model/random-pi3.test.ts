// The random-π³ generator (bench/random-pi3.ts): at the pi3-tiny fixture's shape it writes exactly the fixture's
// tensor names and shapes (the reference PyTorch π³'s state dict), and a small instance loads with Pi3.load and runs.
import { describe, expect, it } from 'vitest';
import { inferPi3Config } from '../../../src/model/pi3/config.js';
import { Pi3 } from '../../../src/model/pi3/model.js';
import { bytesSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { pi3ConfigJson, pi3TensorSpecs, randomPi3Checkpoint, type RandomPi3Shape } from '../../../bench/random-pi3.js';
import { havePi3Fixture, loadPi3Fixture } from '../../fixtures/pi3-tiny.js';

const TINY: RandomPi3Shape = {
  dim: 64,
  heads: 4,
  depth: 18,
  encoderDepth: 2,
  headDim: 64,
  headDepth: 5,
  headHeads: 4,
  cameraDim: 32,
};

describe('random π³ checkpoints (bench/random-pi3.ts)', () => {
  it.skipIf(!havePi3Fixture)(
    "at the fixture's shape: the fixture's tensor names and shapes, and the same inferred config",
    async () => {
      const fx = await loadPi3Fixture();
      const ours = new Map(pi3TensorSpecs(TINY).map((t) => [t.name, t.shape]));
      const theirs = new Map([...fx.model.tensors].map(([n, t]) => [n, [...t.shape]]));
      expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [n, s] of ours) expect(s, n).toEqual(theirs.get(n));
      const cfg = inferPi3Config(new Map([...ours].map(([n, shape]) => [n, { shape }])), pi3ConfigJson(TINY));
      const { assumed: _a, ...mine } = cfg;
      const { assumed: _b, ...ref } = fx.cfg;
      expect(mine).toEqual(ref);
    },
  );

  it('a small instance loads and runs on the wasm EP with finite outputs', async () => {
    const shape: RandomPi3Shape = {
      dim: 32,
      heads: 2,
      depth: 2,
      encoderDepth: 1,
      headDim: 32,
      headDepth: 1,
      headHeads: 2,
      cameraDim: 16,
    };
    const { bytes, config } = randomPi3Checkpoint(shape);
    const st = await openSafetensors(bytesSource(bytes));
    expect(inferPi3Config(st.tensors, config).depth).toBe(2);
    const model = await Pi3.load(bytes, { device: 'wasm', config });
    try {
      const S = 2,
        H = 28,
        W = 42;
      const r = await model.run({
        data: Float32Array.from({ length: S * 3 * H * W }, (_, i) => (i % 97) / 97),
        S,
        H,
        W,
      });
      expect(r.points.length).toBe(S * H * W * 3);
      for (const a of [r.points, r.localPoints, r.conf, r.cameraPoses]) expect(a.every(Number.isFinite)).toBe(true);
    } finally {
      await model.dispose();
    }
  });
});
