// A planner-only app: must bundle without onnxruntime-web (a peer dependency planner users do not install).
import { PlannerWasm, maskLayout } from 'hess-vggt/planner';

const wasm = await PlannerWasm.load();
console.log(
  `SMOKE ${JSON.stringify({ simd: wasm.exports.simdEnabled(), keyBlocks: maskLayout(2, 5 + 7 * 5).candidateKeyBlocks })}`,
);
