// A VGGT-shaped aggregator checkpoint with random weights, for speed measurements (no weights are downloaded).
// Widths, heads and depths are parameters, so the same code makes a VGGT-1B-shaped model on a real GPU.
import { buildSafetensors, type Entry } from '../test/cpu/model/st-helpers';

export interface RandomVggtShape {
  dim: number;
  heads: number;
  depth: number;
  dinoDepth: number;
  registers?: number;
}

export function randomVggtCheckpoint(shape: RandomVggtShape, seed = 1): { bytes: Uint8Array; config: Record<string, unknown> } {
  const { dim: C, heads: H, depth, dinoDepth, registers = 4 } = shape;
  const d = C / H;
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  const entries: Entry[] = [];
  const add = (name: string, dims: number[], scale: number, offset = 0) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + scale * rand();
    entries.push({ name, dtype: 'F32', shape: dims, bytes: new Uint8Array(data.buffer) });
  };
  const block = (p: string, qk: boolean) => {
    add(`${p}.norm1.weight`, [C], 0.1, 1); add(`${p}.norm1.bias`, [C], 0.02);
    add(`${p}.attn.qkv.weight`, [3 * C, C], 1 / Math.sqrt(C)); add(`${p}.attn.qkv.bias`, [3 * C], 0.02);
    if (qk) for (const n of ['q_norm', 'k_norm']) { add(`${p}.attn.${n}.weight`, [d], 0.1, 1); add(`${p}.attn.${n}.bias`, [d], 0.02); }
    add(`${p}.attn.proj.weight`, [C, C], 1 / Math.sqrt(C)); add(`${p}.attn.proj.bias`, [C], 0.02);
    add(`${p}.ls1.gamma`, [C], 0.05, 0.1);
    add(`${p}.norm2.weight`, [C], 0.1, 1); add(`${p}.norm2.bias`, [C], 0.02);
    add(`${p}.mlp.fc1.weight`, [4 * C, C], 1 / Math.sqrt(C)); add(`${p}.mlp.fc1.bias`, [4 * C], 0.02);
    add(`${p}.mlp.fc2.weight`, [C, 4 * C], 1 / Math.sqrt(4 * C)); add(`${p}.mlp.fc2.bias`, [C], 0.02);
    add(`${p}.ls2.gamma`, [C], 0.05, 0.1);
  };
  const pe = 'aggregator.patch_embed';
  add(`${pe}.cls_token`, [1, 1, C], 0.02); add(`${pe}.pos_embed`, [1, 1370, C], 0.02);
  add(`${pe}.register_tokens`, [1, 4, C], 0.02); add(`${pe}.mask_token`, [1, C], 0.02);
  add(`${pe}.patch_embed.proj.weight`, [C, 3, 14, 14], 1 / Math.sqrt(3 * 196)); add(`${pe}.patch_embed.proj.bias`, [C], 0.02);
  for (let i = 0; i < dinoDepth; i++) block(`${pe}.blocks.${i}`, false);
  add(`${pe}.norm.weight`, [C], 0.1, 1); add(`${pe}.norm.bias`, [C], 0.02);
  add('aggregator.camera_token', [1, 2, 1, C], 0.02); add('aggregator.register_token', [1, 2, registers, C], 0.02);
  for (let i = 0; i < depth; i++) { block(`aggregator.frame_blocks.${i}`, true); block(`aggregator.global_blocks.${i}`, true); }
  return {
    bytes: buildSafetensors(entries),
    config: { embed_dim: C, num_heads: H, depth, dino_depth: dinoDepth, dino_heads: H, num_register_tokens: registers },
  };
}
