import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HessError } from '../../../src/errors.js';
import { inferVggtConfig, type VggtConfigOverride } from '../../../src/model/config.js';
import { fileSource, openSafetensors } from '../../../src/model/source/safetensors.js';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures/vggt-tiny');

type Shapes = Map<string, { shape: number[] }>;

/** VGGT state_dict shapes (reference §5), parameterised; `vggt1b()` reproduces VGGT-1B without the track head. */
function vggtShapes(o: {
  C: number;
  hd: number;
  depth: number;
  dinoDepth: number;
  grid: number;
  regs: number;
  F: number;
  oc: number[];
}): Shapes {
  const S: Shapes = new Map();
  const put = (k: string, shape: number[]) => S.set(k, { shape });
  const block = (p: string, C: number, M: number, hd?: number) => {
    for (const n of [
      'norm1.weight',
      'norm1.bias',
      'norm2.weight',
      'norm2.bias',
      'attn.proj.bias',
      'mlp.fc2.bias',
      'ls1.gamma',
      'ls2.gamma',
    ])
      put(`${p}.${n}`, [C]);
    put(`${p}.attn.qkv.weight`, [3 * C, C]);
    put(`${p}.attn.qkv.bias`, [3 * C]);
    put(`${p}.attn.proj.weight`, [C, C]);
    put(`${p}.mlp.fc1.weight`, [M, C]);
    put(`${p}.mlp.fc1.bias`, [M]);
    put(`${p}.mlp.fc2.weight`, [C, M]);
    if (hd)
      for (const n of ['q_norm.weight', 'q_norm.bias', 'k_norm.weight', 'k_norm.bias']) put(`${p}.attn.${n}`, [hd]);
  };
  const { C, hd, F, oc } = o;
  put('aggregator.camera_token', [1, 2, 1, C]);
  put('aggregator.register_token', [1, 2, o.regs, C]);
  for (let i = 0; i < o.depth; i++) {
    block(`aggregator.frame_blocks.${i}`, C, 4 * C, hd);
    block(`aggregator.global_blocks.${i}`, C, 4 * C, hd);
  }
  const pe = 'aggregator.patch_embed';
  for (let i = 0; i < o.dinoDepth; i++) block(`${pe}.blocks.${i}`, C, 4 * C);
  put(`${pe}.cls_token`, [1, 1, C]);
  put(`${pe}.pos_embed`, [1, 1 + o.grid * o.grid, C]);
  put(`${pe}.register_tokens`, [1, o.regs, C]);
  put(`${pe}.mask_token`, [1, C]);
  put(`${pe}.patch_embed.proj.weight`, [C, 3, 14, 14]);
  put(`${pe}.patch_embed.proj.bias`, [C]);
  put(`${pe}.norm.weight`, [C]);
  put(`${pe}.norm.bias`, [C]);
  const D = 2 * C;
  put('camera_head.empty_pose_tokens', [1, 1, 9]);
  for (let i = 0; i < 4; i++) block(`camera_head.trunk.${i}`, D, 4 * D);
  for (const n of ['token_norm', 'trunk_norm']) {
    put(`camera_head.${n}.weight`, [D]);
    put(`camera_head.${n}.bias`, [D]);
  }
  put('camera_head.embed_pose.weight', [D, 9]);
  put('camera_head.embed_pose.bias', [D]);
  put('camera_head.poseLN_modulation.1.weight', [3 * D, D]);
  put('camera_head.poseLN_modulation.1.bias', [3 * D]);
  put('camera_head.pose_branch.fc1.weight', [C, D]);
  put('camera_head.pose_branch.fc1.bias', [C]);
  put('camera_head.pose_branch.fc2.weight', [9, C]);
  put('camera_head.pose_branch.fc2.bias', [9]);
  const dpt = (p: string, od: number) => {
    put(`${p}.norm.weight`, [D]);
    put(`${p}.norm.bias`, [D]);
    for (let k = 0; k < 4; k++) {
      put(`${p}.projects.${k}.weight`, [oc[k], D, 1, 1]);
      put(`${p}.projects.${k}.bias`, [oc[k]]);
      put(`${p}.scratch.layer${k + 1}_rn.weight`, [F, oc[k], 3, 3]);
    }
    for (const [k, ks] of [
      [0, 4],
      [1, 2],
      [3, 3],
    ]) {
      put(`${p}.resize_layers.${k}.weight`, [oc[k], oc[k], ks, ks]);
      put(`${p}.resize_layers.${k}.bias`, [oc[k]]);
    }
    for (let r = 1; r <= 4; r++) {
      for (const u of r < 4 ? [1, 2] : [2]) {
        for (const c of [1, 2]) {
          put(`${p}.scratch.refinenet${r}.resConfUnit${u}.conv${c}.weight`, [F, F, 3, 3]);
          put(`${p}.scratch.refinenet${r}.resConfUnit${u}.conv${c}.bias`, [F]);
        }
      }
      put(`${p}.scratch.refinenet${r}.out_conv.weight`, [F, F, 1, 1]);
      put(`${p}.scratch.refinenet${r}.out_conv.bias`, [F]);
    }
    put(`${p}.scratch.output_conv1.weight`, [F / 2, F, 3, 3]);
    put(`${p}.scratch.output_conv1.bias`, [F / 2]);
    put(`${p}.scratch.output_conv2.0.weight`, [32, F / 2, 3, 3]);
    put(`${p}.scratch.output_conv2.0.bias`, [32]);
    put(`${p}.scratch.output_conv2.2.weight`, [od, 32, 1, 1]);
    put(`${p}.scratch.output_conv2.2.bias`, [od]);
  };
  dpt('depth_head', 2);
  dpt('point_head', 4);
  return S;
}

const vggt1b = () =>
  vggtShapes({ C: 1024, hd: 64, depth: 24, dinoDepth: 24, grid: 37, regs: 4, F: 256, oc: [256, 512, 1024, 1024] });

function expectBad(fn: () => unknown, match?: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HessError);
    expect((e as HessError).code).toBe('BAD_CHECKPOINT');
    if (match) expect((e as HessError).message).toMatch(match);
    return;
  }
  throw new Error('expected BAD_CHECKPOINT');
}

describe('inferVggtConfig: vggt-tiny fixture', () => {
  it('matches config.json from shapes alone (and with config.json as override)', async () => {
    const cfgJson = JSON.parse(await readFile(join(FIXTURES, 'config.json'), 'utf8')) as VggtConfigOverride;
    const src = await fileSource(join(FIXTURES, 'model.safetensors'));
    const st = await openSafetensors(src);
    try {
      const cfg = inferVggtConfig(st.tensors);
      expect(cfg).toMatchObject({
        embedDim: cfgJson.embed_dim,
        numHeads: cfgJson.num_heads,
        headDim: 16,
        depth: cfgJson.depth,
        mlpHiddenDim: 256,
        patchSize: cfgJson.patch_size,
        numRegisterTokens: cfgJson.num_register_tokens,
        patchStartIdx: 5,
        hasTrackHead: false,
      });
      expect(cfg.dino).toEqual({
        dim: 64,
        depth: cfgJson.dino_depth,
        heads: 4,
        headDim: 16,
        mlpHiddenDim: 256,
        posGrid: 37,
        imgSize: 518,
        numRegisters: 4,
      });
      expect(cfg.camera).toEqual({
        dim: 128,
        heads: 4,
        headDim: 32,
        trunkDepth: cfgJson.camera_trunk_depth,
        mlpHiddenDim: 512,
        poseDim: 9,
      });
      expect(cfg.depthHead).toEqual({
        features: cfgJson.dpt_features,
        outChannels: cfgJson.dpt_out_channels,
        outputDim: 2,
      });
      expect(cfg.pointHead).toEqual({ features: 32, outChannels: [16, 32, 64, 64], outputDim: 4 });
      expect(cfg.assumed).toEqual(['dino.heads', 'camera.heads']);

      const withJson = inferVggtConfig(st.tensors, cfgJson);
      expect(withJson.assumed).toEqual([]);
      expect(withJson.dino.heads).toBe(cfgJson.dino_heads);
      expect(withJson.camera!.heads).toBe(cfgJson.camera_heads);
      // overrides decide what shapes cannot tell
      const other = inferVggtConfig(st.tensors, { camera_heads: 8, dino_heads: 2 });
      expect(other.camera!.headDim).toBe(16);
      expect(other.dino.headDim).toBe(32);
    } finally {
      await st.close();
    }
  });
});

describe('inferVggtConfig: VGGT-1B shapes (reference §5)', () => {
  it('the synthetic 1B shape table matches the reference parameter count', () => {
    const S = vggt1b();
    let params = 0;
    for (const { shape } of S.values()) params += shape.reduce((a, b) => a * b, 1);
    expect(S.size).toBe(1403); // 1797 minus the 394 track-head tensors
    expect(params).toBe(1_190_596_120);
  });

  it('infers VGGT-1B', () => {
    const cfg = inferVggtConfig(vggt1b());
    expect(cfg).toMatchObject({
      embedDim: 1024,
      numHeads: 16,
      headDim: 64,
      depth: 24,
      mlpHiddenDim: 4096,
      patchSize: 14,
      patchStartIdx: 5,
    });
    expect(cfg.dino).toMatchObject({ dim: 1024, depth: 24, heads: 16, posGrid: 37, imgSize: 518, numRegisters: 4 });
    expect(cfg.camera).toEqual({ dim: 2048, heads: 16, headDim: 128, trunkDepth: 4, mlpHiddenDim: 8192, poseDim: 9 });
    expect(cfg.depthHead).toEqual({ features: 256, outChannels: [256, 512, 1024, 1024], outputDim: 2 });
    expect(cfg.pointHead!.outputDim).toBe(4);
  });

  it('detects optional heads', () => {
    const S = vggt1b();
    for (const k of [...S.keys()]) if (k.startsWith('point_head.') || k.startsWith('camera_head.')) S.delete(k);
    S.set('track_head.feature_extractor.norm.weight', { shape: [2048] });
    const cfg = inferVggtConfig(S);
    expect(cfg.pointHead).toBeNull();
    expect(cfg.camera).toBeNull();
    expect(cfg.depthHead).not.toBeNull();
    expect(cfg.hasTrackHead).toBe(true);
    expect(cfg.assumed).toEqual(['dino.heads']);
  });
});

describe('inferVggtConfig: errors', () => {
  const drop = (S: Shapes, k: string) => (S.delete(k), S);
  it('throws BAD_CHECKPOINT when key tensors are missing', () => {
    for (const key of [
      'aggregator.camera_token',
      'aggregator.register_token',
      'aggregator.frame_blocks.0.attn.q_norm.weight',
      'aggregator.patch_embed.pos_embed',
      'aggregator.patch_embed.patch_embed.proj.weight',
      'aggregator.global_blocks.7.mlp.fc2.weight',
      'camera_head.token_norm.weight',
      'depth_head.projects.2.weight',
    ]) {
      expectBad(() => inferVggtConfig(drop(vggt1b(), key)), new RegExp(key.replace(/\./g, '\\.')));
    }
    expectBad(() => inferVggtConfig(new Map()), /missing tensor/);
  });

  it('throws on gaps and inconsistent shapes', () => {
    const S = vggt1b();
    for (const k of [...S.keys()]) if (k.startsWith('aggregator.global_blocks.23.')) S.delete(k);
    expectBad(() => inferVggtConfig(S), /24 frame blocks but 23 global blocks/);
    const T = vggt1b();
    for (const k of [...T.keys()]) if (k.startsWith('aggregator.frame_blocks.5.')) T.delete(k);
    expectBad(() => inferVggtConfig(T), /frame_blocks\.5 is missing/);
    const U = vggt1b();
    U.set('aggregator.patch_embed.pos_embed', { shape: [1, 1371, 1024] });
    expectBad(() => inferVggtConfig(U), /not 1 \+ a square/);
    const V = vggt1b();
    V.set('aggregator.frame_blocks.0.attn.q_norm.weight', { shape: [48] });
    expectBad(() => inferVggtConfig(V), /multiple of the head dim/);
    const W = vggt1b();
    W.set('aggregator.frame_blocks.3.attn.qkv.weight', { shape: [3072, 1000] });
    expectBad(() => inferVggtConfig(W), /qkv\.weight has shape \[3072, 1000\], expected \[3072, 1024\]/);
  });

  it('throws when the override contradicts the weights or is malformed', () => {
    expectBad(() => inferVggtConfig(vggt1b(), { embed_dim: 768 }), /embed_dim = 768/);
    expectBad(() => inferVggtConfig(vggt1b(), { num_heads: 8 }), /num_heads/);
    expectBad(() => inferVggtConfig(vggt1b(), { dino_img_size: 224 }), /dino_img_size/);
    expectBad(() => inferVggtConfig(vggt1b(), { dpt_out_channels: [256, 512, 1024, 512] }), /dpt_out_channels/);
    expectBad(() => inferVggtConfig(vggt1b(), { camera_heads: 3 }), /not divisible by 3 heads/);
    expectBad(() => inferVggtConfig(vggt1b(), { dino_heads: -1 }), /positive integer/);
    expectBad(() => inferVggtConfig(vggt1b(), { dino_heads: '16' as unknown as number }), /positive integer/);
  });
});
