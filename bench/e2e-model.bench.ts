// Computed, not timed: a FLOP model of the VGGT-1B aggregator at the e2e benchmark's shapes, to say whether the
// issue's goal (≥ 2.5× end to end at sparsity 0.73, S = 32) is reachable at all on any device.
import { allocateBudgets } from '../src/allocate/index.js';
import { maskLayout } from '../src/mask/layout.js';
import { PlannerWasm } from '../src/wasm/planner-module.js';
import { writeResults } from './lib.js';

const sparsities = [0.43, 0.73, 0.9];
// Per shape: global attention's FLOP share f, the achieved sparsity ρ the planner gives, Amdahl's bound 1/(1 − f·ρ)
// if time ∝ FLOPs, and how many times lower dense attention's FLOP rate would have to be for 2.5× to be reachable.
const wasm = await PlannerWasm.load();
const flopRows: (string | number)[][] = [];
const flopData: unknown[] = [];
{
  const C = 1024,
    heads = 16,
    P = 930;
  for (const S of [8, 32, 100]) {
    const N = S * P;
    const attn = (T: number) => 4 * T * T * C; // QKᵀ and PV over T tokens
    const linear = (T: number) => 2 * 12 * C * C * T; // qkv, proj, MLP (4C)
    const global = attn(N);
    const rest =
      24 * (S * attn(P) + linear(N)) /* DINO */ +
      24 * (S * attn(P) + linear(N)) /* frame */ +
      24 * linear(N) /* global linear */;
    const f = (24 * global) / (24 * global + rest);
    const L = maskLayout(S, P);
    for (const sparsity of sparsities) {
      const b = allocateBudgets(wasm, new Array(heads).fill(1 / heads), heads, {
        keyBlocks: L.candidateKeyBlocks,
        sparsity,
        policy: 'uniform',
      });
      let kept = 0;
      for (let h = 0; h < heads; h++)
        kept +=
          L.denseQueryBlocks * L.numKeyBlocks + (L.numQueryBlocks - L.denseQueryBlocks) * (b[h]! + L.specialKeyBlocks);
      const rho = 1 - kept / (heads * L.numQueryBlocks * L.numKeyBlocks);
      const bound = 1 / (1 - f * rho);
      // time share needed for 2.5×: f_t·ρ ≥ 0.6; f_t = r·A/(r·A + B) with A, B the FLOPs → r = f_t·B / ((1 − f_t)·A)
      const ft = 0.6 / rho;
      const r = ft < 1 ? (ft * rest) / ((1 - ft) * 24 * global) : Infinity;
      flopRows.push([
        String(S),
        String(N),
        sparsity,
        rho.toFixed(3),
        f.toFixed(3),
        bound,
        Number.isFinite(r) ? r : 'unreachable',
      ]);
      flopData.push({ S, N, sparsity, achieved: rho, flopShare: f, amdahlBound: bound, attentionSlowdownFor2_5x: r });
    }
  }
}

writeResults('e2e-model', {
  title: 'Can HeSS-sparse global attention give 2.5× end to end? A FLOP model of the VGGT-1B aggregator',
  device: 'none (computed)',
  tables: [
    {
      caption:
        'VGGT-1B aggregator (dim 1024, 16 heads, 24 DINO + 24 frame + 24 global blocks) at 518×350 (P = 930 tokens per frame)',
      header: [
        'S',
        'tokens N',
        'requested sparsity',
        'achieved sparsity ρ',
        'global-attention FLOP share f',
        'Amdahl bound if time ∝ FLOPs',
        'attention FLOP/s slowdown vs the rest needed for 2.5×',
      ],
      rows: flopRows,
    },
  ],
  notes: [
    'FLOPs: attention 4·T²·C per block over T tokens (QKᵀ and PV), linear layers 24·C²·T (qkv, proj, 4C MLP; multiply–add = 2). The camera and DPT heads are left out: they only add non-attention work, so with them every bound is lower.',
    'ρ is what the planner gives (special-token key blocks always kept, query blocks with special tokens dense; 128-token query and 64-token key blocks); it is the same for uniform, hess and reverse (same total per layer).',
    "Amdahl: speed-up ≤ 1/(1 − f_t·ρ) with f_t the dense run's time share of global attention. f_t = f only if attention runs at the FLOP rate of the rest; the last column is how many times lower its FLOP rate must be (making f_t larger) for 1/(1 − f_t·ρ) = 2.5.",
    'At S = 32 and 0.73 the bound is 1.75× at equal efficiency: 2.5× needs dense global attention ≥ 3.5× less efficient per FLOP than the GEMMs, which depends on the device and kernels and must be measured there (bench/results/e2e.md has the measured share on this machine). At S = 100 equal efficiency gives 2.46×.',
  ],
  data: flopData,
});
