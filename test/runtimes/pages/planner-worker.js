// A module worker that only imports `hess-vggt/planner` (no WebGPU, no onnxruntime-web) and runs it.
import * as planner from '/dist/browser/planner.js';
import { smoke } from '/test/runtimes/scripts/smoke.mjs';

const report = await smoke(null, { planner });
report.importedWebGpu = typeof planner.createDevice !== 'undefined';
postMessage(report);
