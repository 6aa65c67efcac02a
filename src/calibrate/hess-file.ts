import { HessError } from '../errors';

/** Current HeSS file format version. */
export const HESS_FORMAT_VERSION = 1;

/**
 * HeSS scores of one model, as JSON. `terms` hold the raw scene-averaged Fisher traces Σg² of each head's query
 * weights per error term ([layer][head]); `scores` the combined per-layer-normalised score
 * HeSS = λ·camera + (1−λ)·pointCloud, each layer's row summing to 1. Scores are only comparable within a layer.
 *
 * @example
 * const hess = parseHessFile(await (await fetch('vggt-1b.hess.json')).text());
 * hess.scores[0]; // 16 head scores of global layer 0
 */
export interface HessFile {
  format: 'hess-scores';
  version: number;
  /** e.g. "facebook/VGGT-1B". */
  modelId: string;
  layers: number;
  heads: number;
  /** Weight of the camera term (0.5 default; 0 for Pi3-like models without a camera head). */
  lambda: number;
  terms: { camera: number[][]; pointCloud: number[][] };
  scores: number[][];
  calibration: { description: string; scenes: number };
}

function bad(field: string, why: string): never {
  throw new HessError('BAD_HESS_FILE', `HeSS file: \`${field}\` ${why}`, 'regenerate it with FisherAccumulator.toHessFile() or fix that field');
}

function matrix(v: unknown, field: string, layers: number, heads: number, normalised: boolean): number[][] {
  if (!Array.isArray(v) || v.length !== layers) bad(field, `must be an array of ${layers} layers`);
  return v.map((row: unknown, l) => {
    if (!Array.isArray(row) || row.length !== heads) bad(`${field}[${l}]`, `must be an array of ${heads} heads`);
    let s = 0;
    const out = row.map((x: unknown, h) => {
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) bad(`${field}[${l}][${h}]`, `must be a finite number ≥ 0, got ${JSON.stringify(x)}`);
      s += x;
      return x;
    });
    if (normalised && Math.abs(s - 1) > 1e-6) bad(`${field}[${l}]`, `must sum to 1 (scores are normalised per layer), sums to ${s}`);
    return out;
  });
}

/**
 * Parse and check a HeSS file (JSON text or an already-parsed object). Throws HessError 'BAD_HESS_FILE' naming the
 * first bad field.
 *
 * @example
 * try { parseHessFile(text); } catch (e) { if (e instanceof HessError) console.log(e.message); } // names the field
 */
export function parseHessFile(json: string | unknown): HessFile {
  let o: unknown = json;
  if (typeof json === 'string') {
    try { o = JSON.parse(json); } catch (e) { throw new HessError('BAD_HESS_FILE', `HeSS file is not JSON: ${String(e)}`, 'pass the text of a .hess.json file', { cause: e }); }
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('(root)', 'must be a JSON object');
  const f = o as Record<string, unknown>;
  if (f.format !== 'hess-scores') bad('format', `must be "hess-scores", got ${JSON.stringify(f.format)}`);
  if (f.version !== HESS_FORMAT_VERSION) bad('version', `must be ${HESS_FORMAT_VERSION}, got ${JSON.stringify(f.version)}`);
  if (typeof f.modelId !== 'string' || !f.modelId) bad('modelId', 'must be a non-empty string');
  for (const k of ['layers', 'heads'] as const) {
    const v = f[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) bad(k, `must be a positive integer, got ${JSON.stringify(v)}`);
  }
  const layers = f.layers as number, heads = f.heads as number;
  if (typeof f.lambda !== 'number' || !(f.lambda >= 0 && f.lambda <= 1)) bad('lambda', `must be a number in [0, 1], got ${JSON.stringify(f.lambda)}`);
  if (typeof f.terms !== 'object' || f.terms === null) bad('terms', 'must be an object with `camera` and `pointCloud`');
  const t = f.terms as Record<string, unknown>;
  const camera = matrix(t.camera, 'terms.camera', layers, heads, false);
  const pointCloud = matrix(t.pointCloud, 'terms.pointCloud', layers, heads, false);
  const scores = matrix(f.scores, 'scores', layers, heads, true);
  if (typeof f.calibration !== 'object' || f.calibration === null) bad('calibration', 'must be an object { description, scenes }');
  const c = f.calibration as Record<string, unknown>;
  if (typeof c.description !== 'string') bad('calibration.description', 'must be a string');
  if (typeof c.scenes !== 'number' || !Number.isInteger(c.scenes) || c.scenes <= 0) bad('calibration.scenes', `must be a positive integer, got ${JSON.stringify(c.scenes)}`);
  return {
    format: 'hess-scores', version: HESS_FORMAT_VERSION, modelId: f.modelId as string, layers, heads, lambda: f.lambda as number,
    terms: { camera, pointCloud }, scores, calibration: { description: c.description as string, scenes: c.scenes as number },
  };
}

/**
 * Combine raw per-term traces into per-layer-normalised HeSS scores: each term's heads are scaled to sum 1 within
 * the layer (a layer whose trace is all zero counts as uniform), then λ·camera + (1−λ)·pointCloud.
 *
 * @example
 * const scores = combineHess(camTraces, pcTraces, 0.5);
 */
export function combineHess(camera: number[][], pointCloud: number[][], lambda = 0.5): number[][] {
  const norm = (row: number[]) => {
    const s = row.reduce((a, b) => a + b, 0);
    return s > 0 ? row.map((x) => x / s) : row.map(() => 1 / row.length);
  };
  return camera.map((row, l) => {
    const c = norm(row), p = norm(pointCloud[l]);
    return c.map((x, h) => lambda * x + (1 - lambda) * p[h]);
  });
}
