// Shared by the tests and the gpu/e2e benches; it lives in bench/ because bench/ may not import test/.
import { combineHess, HESS_FORMAT_VERSION, type HessFile } from '../src/hess/hess-file.js';

/** A HeSS file with given raw per-(layer, head) traces for both terms (tests plant sensitivities this way). */
export function plantedHess(traces: number[][], modelId = 'test'): HessFile {
  return {
    format: 'hess-scores',
    version: HESS_FORMAT_VERSION,
    modelId,
    layers: traces.length,
    heads: traces[0].length,
    lambda: 0.5,
    terms: { camera: traces, pointCloud: traces },
    scores: combineHess(traces, traces, 0.5),
    calibration: { description: 'planted in a test', scenes: 0 },
  };
}
