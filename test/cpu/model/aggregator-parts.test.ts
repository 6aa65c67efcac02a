import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { createSession, loadOrt } from '../../../src/runtime/ort.js';
import { DenseOnnxAttention } from '../../../src/model/trunk/attention-core.js';
import {
  type BlockDims,
  buildGlobalPostGraph,
  buildGlobalPreGraph,
  buildLocalBlockGraph,
  buildPostGraph,
  buildPreGraph,
  loadBlockWeights,
  postParams,
  preParams,
} from '../../../src/model/trunk/blocks.js';
import { aaBicubicResizeMatrix, interpolatePosEmbed } from '../../../src/model/trunk/pos-embed.js';
import { ropePositions, ropeTables } from '../../../src/model/trunk/rope.js';
import { freshSeed, randn, relError, rng } from '../../helpers/random.js';

// ---------- float64 references written straight from the formulas (reference doc §1.2, §1.4) ----------

/** VGGT RoPE 2D on one head vector, as the PyTorch code does it: halves, cat(angle, angle), rotate_half. */
function ropeDirect(v: Float64Array, y: number, x: number, base: number): Float64Array {
  const d = v.length;
  const h = d / 2;
  const out = new Float64Array(d);
  for (const [off, p] of [
    [0, y],
    [h, x],
  ] as const) {
    const t = v.subarray(off, off + h);
    const invFreq = Array.from({ length: h / 2 }, (_, j) => 1 / base ** ((2 * j) / h));
    const ang = [...invFreq, ...invFreq].map((f) => p * f);
    const rot = [...Array.from(t.subarray(h / 2), (e) => -e), ...t.subarray(0, h / 2)];
    for (let i = 0; i < h; i++) out[off + i] = t[i] * Math.cos(ang[i]) + rot[i] * Math.sin(ang[i]);
  }
  return out;
}

/** Keys cubic, a = −0.5. */
function keys(x: number): number {
  const t = Math.abs(x);
  return t < 1 ? 1.5 * t ** 3 - 2.5 * t ** 2 + 1 : t < 2 ? -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2 : 0;
}

/** PyTorch's AA weight of input j for output i (normalised over the taps), evaluated on its own. */
function aaWeight(inSize: number, outSize: number, i: number, j: number): number {
  if (inSize === outSize) return i === j ? 1 : 0;
  const scale = inSize / outSize;
  const support = scale >= 1 ? 2 * scale : 2;
  const center = scale * (i + 0.5);
  const lo = Math.max(Math.trunc(center - support + 0.5), 0);
  const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
  const f = (k: number) => keys((k - center + 0.5) / Math.max(scale, 1));
  if (j < lo || j >= hi) return 0;
  let sum = 0;
  for (let k = lo; k < hi; k++) sum += f(k);
  return f(j) / sum;
}

function layerNorm64(x: Float64Array, w: Float32Array, b: Float32Array, eps: number): Float64Array {
  const n = x.length;
  let m = 0;
  for (const v of x) m += v;
  m /= n;
  let s = 0;
  for (const v of x) s += (v - m) ** 2;
  const r = 1 / Math.sqrt(s / n + eps);
  return Float64Array.from(x, (v, i) => (v - m) * r * w[i] + b[i]);
}

/** y = W·x + b with PyTorch layout W [out, in]. */
function linear64(x: Float64Array, W: Float32Array, b: Float32Array, out: number): Float64Array {
  const inDim = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = b[o];
    for (let i = 0; i < inDim; i++) s += W[o * inDim + i] * x[i];
    y[o] = s;
  }
  return y;
}

type Weights = Record<string, Float32Array>;

/** One VGGT block in float64 over a sequence of T tokens [T, C] (attention over all T). */
function block64(x: Float64Array, T: number, b: BlockDims, w: Weights, pos?: Int32Array): Float64Array {
  const { C, H, d, M } = b;
  const q = new Float64Array(T * C),
    k = new Float64Array(T * C),
    v = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    const h = layerNorm64(x.subarray(t * C, (t + 1) * C), w['norm1.weight'], w['norm1.bias'], b.eps);
    const qkv = linear64(h, w['attn.qkv.weight'], w['attn.qkv.bias'], 3 * C);
    for (let hh = 0; hh < H; hh++) {
      let qh: Float64Array = qkv.slice(hh * d, (hh + 1) * d);
      let kh: Float64Array = qkv.slice(C + hh * d, C + (hh + 1) * d);
      if (b.qkNorm) {
        qh = layerNorm64(qh, w['attn.q_norm.weight'], w['attn.q_norm.bias'], b.eps);
        kh = layerNorm64(kh, w['attn.k_norm.weight'], w['attn.k_norm.bias'], b.eps);
      }
      if (pos) {
        qh = ropeDirect(qh, pos[2 * t], pos[2 * t + 1], 100);
        kh = ropeDirect(kh, pos[2 * t], pos[2 * t + 1], 100);
      }
      q.set(qh, t * C + hh * d);
      k.set(kh, t * C + hh * d);
      v.set(qkv.subarray(2 * C + hh * d, 2 * C + (hh + 1) * d), t * C + hh * d);
    }
  }
  const o = attention64(q, k, v, T, H, d);
  const y = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    const a = linear64(o.subarray(t * C, (t + 1) * C), w['attn.proj.weight'], w['attn.proj.bias'], C);
    const x1 = Float64Array.from(a, (e, i) => x[t * C + i] + w['ls1.gamma'][i] * e);
    const h = layerNorm64(x1, w['norm2.weight'], w['norm2.bias'], b.eps);
    const f = linear64(h, w['mlp.fc1.weight'], w['mlp.fc1.bias'], M).map((e) => 0.5 * e * (1 + erf(e / Math.SQRT2)));
    const m = linear64(f, w['mlp.fc2.weight'], w['mlp.fc2.bias'], C);
    for (let i = 0; i < C; i++) y[t * C + i] = x1[i] + w['ls2.gamma'][i] * m[i];
  }
  return y;
}

/** Dense attention in float64, token-major [T, H, d]. */
function attention64(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  T: number,
  H: number,
  d: number,
): Float64Array {
  const C = H * d;
  const o = new Float64Array(T * C);
  const s = new Float64Array(T);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < T; i++) {
      let mx = -Infinity;
      for (let j = 0; j < T; j++) {
        let acc = 0;
        for (let e = 0; e < d; e++) acc += q[i * C + h * d + e] * k[j * C + h * d + e];
        s[j] = acc / Math.sqrt(d);
        mx = Math.max(mx, s[j]);
      }
      let z = 0;
      for (let j = 0; j < T; j++) z += s[j] = Math.exp(s[j] - mx);
      for (let j = 0; j < T; j++) for (let e = 0; e < d; e++) o[i * C + h * d + e] += (s[j] / z) * v[j * C + h * d + e];
    }
  }
  return o;
}

/** erf to ~1e-15 (series / continued fraction would do; Abramowitz–Stegun 7.1.26 is too coarse here). */
function erf(x: number): number {
  // Taylor series converges fast for |x| < 3; beyond that erf is ±1 to double precision within 2e-5·e^{-9}.
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  let sum = 0;
  let term = ax;
  for (let n = 0; n < 200; n++) {
    sum += term / (2 * n + 1);
    term *= (-ax * ax) / (n + 1);
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
}

/** Random weights for a block in checkpoint layout, served by name like a safetensors reader. */
function randomBlock(
  b: BlockDims,
  rand: () => number,
  prefix: string,
): { reader: { read(n: string): Promise<Float32Array> }; w: Weights } {
  const w: Weights = {};
  for (const s of [...preParams(b), ...postParams(b)]) {
    const n = s.shape.reduce((a, c) => a * c, 1);
    const isNormW = /norm.*weight/.test(s.key);
    const scale = s.linear ? 1 / Math.sqrt(s.linear[1]) : 0.3;
    const data = randn(n, rand, scale);
    if (isNormW) for (let i = 0; i < n; i++) data[i] += 1;
    w[s.key] = data;
  }
  return { w, reader: { read: async (n: string) => w[n.slice(prefix.length + 1)] } };
}

// ------------------------------------------------ tests ------------------------------------------------

describe('RoPE 2D tables', () => {
  it('positions: 5 special tokens at (0,0), patches row-major at (r+1, c+1)', () => {
    const pos = ropePositions(3, 4, 5);
    expect(pos.length).toBe(2 * (5 + 12));
    for (let t = 0; t < 5; t++) expect([pos[2 * t], pos[2 * t + 1]]).toEqual([0, 0]);
    expect([pos[2 * 5], pos[2 * 5 + 1]]).toEqual([1, 1]);
    expect([pos[2 * 8], pos[2 * 8 + 1]]).toEqual([1, 4]);
    expect([pos[2 * 9], pos[2 * 9 + 1]]).toEqual([2, 1]);
    expect([pos[2 * 16], pos[2 * 16 + 1]]).toEqual([3, 4]);
  });

  it('q·cos + q[perm]·sinSigned equals the direct formula on fresh random vectors (several head widths)', () => {
    const rand = rng(freshSeed('rope'));
    for (const d of [8, 16, 64]) {
      const gh = 1 + Math.floor(rand() * 8);
      const gw = 1 + Math.floor(rand() * 8);
      const pos = ropePositions(gh, gw, 5);
      const P = pos.length / 2;
      const tab = ropeTables(pos, d, 100, 2);
      expect(tab.T).toBe(2 * P);
      let worst = 0;
      for (let t = 0; t < 2 * P; t++) {
        const p = t % P; // the repeat tiles the per-frame table
        const v = Float64Array.from(randn(d, rand));
        const ref = ropeDirect(v, pos[2 * p], pos[2 * p + 1], 100);
        const got = Float64Array.from(
          { length: d },
          (_, i) => v[i] * tab.cos[t * d + i] + v[tab.perm[i]] * tab.sinSigned[t * d + i],
        );
        worst = Math.max(worst, relError(got, ref));
      }
      expect(worst).toBeLessThan(1e-6);
      // Special tokens at (0, 0): RoPE is the identity there.
      for (let i = 0; i < d; i++) expect([tab.cos[i], Math.abs(tab.sinSigned[i])]).toEqual([1, 0]);
    }
  });

  it('rejects head widths the 2D split cannot use', () => {
    expect(() => ropeTables(ropePositions(2, 2, 5), 6)).toThrow(HessError);
  });
});

describe('DINO pos-embed antialiased bicubic resize', () => {
  it('37 → 37 is the identity', () => {
    const rand = rng(freshSeed('posembed-id'));
    const C = 8;
    const pe = randn((1 + 37 * 37) * C, rand, 0.02);
    expect(interpolatePosEmbed(pe, 37, C, 37, 37)).toEqual(pe);
  });

  it('matches a direct 2-D float64 evaluation of the AA weights (down- and upsampling, fresh grids)', () => {
    const rand = rng(freshSeed('posembed'));
    const G = 37;
    const C = 6;
    const pe = randn((1 + G * G) * C, rand, 0.02);
    const grids = [
      [5, 7],
      [28, 37],
      [37, 25],
      [1 + Math.floor(rand() * 36), 1 + Math.floor(rand() * 36)],
      [41, 50],
    ];
    for (const [gh, gw] of grids) {
      const got = interpolatePosEmbed(pe, G, C, gh, gw);
      const ref = new Float64Array((1 + gh * gw) * C);
      for (let k = 0; k < C; k++) ref[k] = pe[k]; // cls unchanged
      for (let r = 0; r < gh; r++) {
        for (let c = 0; c < gw; c++) {
          for (let i = 0; i < G; i++) {
            const wy = aaWeight(G, gh, r, i);
            if (!wy) continue;
            for (let j = 0; j < G; j++) {
              const wx = aaWeight(G, gw, c, j);
              for (let k = 0; k < C; k++) ref[(1 + r * gw + c) * C + k] += wy * wx * pe[(1 + i * G + j) * C + k];
            }
          }
        }
      }
      expect(relError(got, ref), `${gh}×${gw}`).toBeLessThan(1e-6);
    }
  });

  it('weight rows sum to 1 and the kernel is the antialiased one (wider than 4 taps when downsampling)', () => {
    const m = aaBicubicResizeMatrix(37, 5);
    for (let i = 0; i < 5; i++) {
      const row = m.subarray(i * 37, (i + 1) * 37);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(row.filter((w) => w !== 0).length).toBeGreaterThan(4);
    }
  });
});

describe('block graphs on the wasm EP vs a float64 block', () => {
  const b: BlockDims = { C: 32, H: 4, d: 8, M: 64, eps: 1e-5, qkNorm: true, rope: true };

  it('frame block (attention within each frame, q/k norm, RoPE) on fresh random weights and tokens', async () => {
    const ort = await loadOrt();
    const rand = rng(freshSeed('frame-block'));
    const [S, gh, gw] = [2, 2, 3];
    const pos = ropePositions(gh, gw, 5);
    const P = pos.length / 2;
    const { reader, w } = randomBlock(b, rand, 'blk');
    const x = randn(S * P * b.C, rand);
    const specs = [...preParams(b), ...postParams(b)];
    const wm = await loadBlockWeights(reader, 'blk', specs);
    const tab = ropeTables(pos, b.d);
    const s = await createSession(ort, buildLocalBlockGraph(b), { ep: 'wasm' });
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      x: new ort.Tensor('float32', x, [S, P, b.C]),
      rope_cos: new ort.Tensor('float32', tab.cos, [P, 1, b.d]),
      rope_sin: new ort.Tensor('float32', tab.sinSigned, [P, 1, b.d]),
    };
    for (const sp of specs) feeds[sp.input] = new ort.Tensor('float32', wm.get(sp.input)!, sp.shape);
    const y = (await s.run(feeds)).y.data as Float32Array;
    const ref = new Float64Array(S * P * b.C);
    for (let f = 0; f < S; f++)
      ref.set(block64(Float64Array.from(x.subarray(f * P * b.C, (f + 1) * P * b.C)), P, b, w, pos), f * P * b.C);
    expect(relError(y, ref)).toBeLessThan(1e-5);
    await s.release();
  });

  it('global block = pre-segment → dense attention core → post-segment, attention across all frames', async () => {
    const ort = await loadOrt();
    const rand = rng(freshSeed('global-block'));
    const [S, gh, gw] = [3, 2, 2];
    const pos = ropePositions(gh, gw, 5);
    const P = pos.length / 2;
    const N = S * P;
    const { reader, w } = randomBlock(b, rand, 'g');
    const x = randn(N * b.C, rand);
    const tab = ropeTables(pos, b.d, 100, S);
    const pre = await createSession(ort, buildGlobalPreGraph(b), { ep: 'wasm' });
    const post = await createSession(ort, buildGlobalPostGraph(b), { ep: 'wasm' });
    const core = await DenseOnnxAttention.create(ort, { ep: 'wasm' }, b.H, b.d);
    const feed = async (specs: ReturnType<typeof preParams>) => {
      const m = await loadBlockWeights(reader, 'g', specs);
      return Object.fromEntries(specs.map((sp) => [sp.input, new ort.Tensor('float32', m.get(sp.input)!, sp.shape)]));
    };
    const xT = new ort.Tensor('float32', x, [S, P, b.C]);
    const qkv = await pre.run({
      x: xT,
      rope_cos: new ort.Tensor('float32', tab.cos, [N, 1, b.d]),
      rope_sin: new ort.Tensor('float32', tab.sinSigned, [N, 1, b.d]),
      ...(await feed(preParams(b))),
    });
    expect(qkv.q.dims).toEqual([N, b.H, b.d]);
    const o = await core.run(qkv.q, qkv.k, qkv.v, N, b.H, b.d, { block: 0, S, P });
    // The core alone against float64 attention on the same q, k, v.
    expect(
      relError(
        o.data as Float32Array,
        attention64(qkv.q.data as Float32Array, qkv.k.data as Float32Array, qkv.v.data as Float32Array, N, b.H, b.d),
      ),
    ).toBeLessThan(1e-5);
    const y = (await post.run({ x: xT, o, ...(await feed(postParams(b))) })).y.data as Float32Array;
    const posAll = new Int32Array(2 * N);
    for (let f = 0; f < S; f++) posAll.set(pos, f * 2 * P); // global blocks reuse per-frame positions
    expect(relError(y, block64(Float64Array.from(x), N, b, w, posAll))).toBeLessThan(1e-5);
    await expect(core.run(qkv.q, qkv.k, qkv.v, N, b.H + 1, b.d, { block: 0, S, P })).rejects.toBeInstanceOf(HessError);
    await Promise.all([pre.release(), post.release(), core.dispose()]);
  });

  it('DINO-style block (no q/k norm, no RoPE, eps 1e-6)', async () => {
    const ort = await loadOrt();
    const rand = rng(freshSeed('dino-block'));
    const bd: BlockDims = { ...b, eps: 1e-6, qkNorm: false, rope: false };
    const [S, T] = [2, 9];
    const { reader, w } = randomBlock(bd, rand, 'd');
    const x = randn(S * T * bd.C, rand);
    const specs = [...preParams(bd), ...postParams(bd)];
    expect(specs.some((sp) => sp.key.includes('q_norm'))).toBe(false);
    const wm = await loadBlockWeights(reader, 'd', specs);
    const s = await createSession(ort, buildLocalBlockGraph(bd), { ep: 'wasm' });
    const feeds = Object.fromEntries(
      specs.map((sp) => [sp.input, new ort.Tensor('float32', wm.get(sp.input)!, sp.shape)]),
    );
    const y = (await s.run({ x: new ort.Tensor('float32', x, [S, T, bd.C]), ...feeds })).y.data as Float32Array;
    const ref = new Float64Array(S * T * bd.C);
    for (let f = 0; f < S; f++)
      ref.set(block64(Float64Array.from(x.subarray(f * T * bd.C, (f + 1) * T * bd.C)), T, bd, w), f * T * bd.C);
    expect(relError(y, ref)).toBeLessThan(1e-5);
    await s.release();
  });

  it('DINO block split (pre-segment without RoPE → per-frame attention → post-segment), pre/post on row chunks', async () => {
    const ort = await loadOrt();
    const rand = rng(freshSeed('dino-split'));
    const bd: BlockDims = { ...b, eps: 1e-6, qkNorm: false, rope: false };
    const [S, T] = [3, 7];
    const N = S * T;
    const { reader, w } = randomBlock(bd, rand, 'd');
    const x = randn(N * bd.C, rand);
    const pre = await createSession(ort, buildPreGraph(bd), { ep: 'wasm' });
    const post = await createSession(ort, buildPostGraph(bd), { ep: 'wasm' });
    const feed = async (specs: ReturnType<typeof preParams>) => {
      const m = await loadBlockWeights(reader, 'd', specs);
      return Object.fromEntries(specs.map((sp) => [sp.input, new ort.Tensor('float32', m.get(sp.input)!, sp.shape)]));
    };
    const [preW, postW] = [await feed(preParams(bd)), await feed(postParams(bd))];
    expect(pre.inputNames).not.toContain('rope_cos');
    // Rows [0, 8), [8, 21): chunks that cut through a frame, as the aggregator's token chunks may.
    const cuts = [
      [0, 8],
      [8, N],
    ];
    const q = new Float32Array(N * bd.C),
      k = new Float32Array(N * bd.C),
      v = new Float32Array(N * bd.C);
    for (const [a0, a1] of cuts) {
      const r = await pre.run({
        x: new ort.Tensor('float32', x.subarray(a0 * bd.C, a1 * bd.C), [1, a1 - a0, bd.C]),
        ...preW,
      });
      expect(r.q.dims).toEqual([a1 - a0, bd.H, bd.d]);
      q.set(r.q.data as Float32Array, a0 * bd.C);
      k.set(r.k.data as Float32Array, a0 * bd.C);
      v.set(r.v.data as Float32Array, a0 * bd.C);
    }
    const o = new Float32Array(N * bd.C);
    for (let f = 0; f < S; f++) {
      const part = (a: Float32Array) => a.subarray(f * T * bd.C, (f + 1) * T * bd.C);
      o.set(attention64(part(q), part(k), part(v), T, bd.H, bd.d), f * T * bd.C);
    }
    const y = new Float32Array(N * bd.C);
    for (const [a0, a1] of cuts) {
      const r = await post.run({
        x: new ort.Tensor('float32', x.subarray(a0 * bd.C, a1 * bd.C), [1, a1 - a0, bd.C]),
        o: new ort.Tensor('float32', o.subarray(a0 * bd.C, a1 * bd.C), [a1 - a0, bd.H, bd.d]),
        ...postW,
      });
      y.set(r.y.data as Float32Array, a0 * bd.C);
    }
    const ref = new Float64Array(N * bd.C);
    for (let f = 0; f < S; f++)
      ref.set(block64(Float64Array.from(x.subarray(f * T * bd.C, (f + 1) * T * bd.C)), T, bd, w), f * T * bd.C);
    expect(relError(y, ref)).toBeLessThan(1e-5);
    await Promise.all([pre.release(), post.release()]);
  });

  it('a checkpoint tensor of the wrong size is a typed error naming the tensor', async () => {
    const reader = { read: async () => new Float32Array(7) };
    await expect(loadBlockWeights(reader, 'agg.frame_blocks.3', preParams(b))).rejects.toThrow(
      /agg\.frame_blocks\.3\.norm1\.weight/,
    );
  });
});
