import { HessError } from '../errors.js';

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
  /**
   * Which model's global layers the scores are for ('vggt': 24 in VGGT-1B; 'pi3': π³'s 18). Optional (files
   * written before π³ have none, and are checked by their layer count only); a model refuses the other's file.
   */
  model?: 'vggt' | 'pi3';
  layers: number;
  heads: number;
  /** Weight of the camera term (0.5 default; 0 for Pi3-like models without a camera head). */
  lambda: number;
  terms: { camera: number[][]; pointCloud: number[][] };
  scores: number[][];
  calibration: { description: string; scenes: number };
}

/**
 * Documented maxima of a HeSS file: larger files are BAD_HESS_FILE before anything is allocated for them
 * (VGGT-1B: 24 layers × 16 heads, ~20 KB).
 */
export const HESS_FILE_LIMITS = {
  maxLayers: 4096,
  maxHeads: 4096,
  maxEntries: 2 ** 20,
  maxTextLength: 64 * 2 ** 20,
  maxStringLength: 4096,
} as const;

/** Keys that could reach Object.prototype if a consumer ever merged the file into an object. */
const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

function bad(field: string, why: string): never {
  throw new HessError(
    'BAD_HESS_FILE',
    `HeSS file: \`${field}\` ${why}`,
    'regenerate it with FisherAccumulator.toHessFile() or fix that field',
  );
}

function show(x: unknown): string {
  if (typeof x === 'number') return String(x); // NaN and ±Infinity (JSON.stringify would say null)
  try {
    return String(JSON.stringify(x)).slice(0, 80);
  } catch {
    return typeof x;
  }
}

/** A plain object's own fields, refusing prototype-pollution keys and objects that only inherit the fields. */
function record(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field, 'must be a JSON object');
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) bad(field, 'must be a plain object');
  for (const k of FORBIDDEN_KEYS) if (Object.hasOwn(v, k)) bad(field, `has a forbidden key "${k}"`);
  const own: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(v)) own[k] = (v as Record<string, unknown>)[k];
  return own;
}

function matrix(v: unknown, field: string, layers: number, heads: number, normalised: boolean): number[][] {
  if (!Array.isArray(v) || v.length !== layers) bad(field, `must be an array of ${layers} layers`);
  const out: number[][] = [];
  for (let l = 0; l < layers; l++) {
    const row: unknown = v[l];
    if (!Array.isArray(row) || row.length !== heads) bad(`${field}[${l}]`, `must be an array of ${heads} heads`);
    let s = 0;
    const r: number[] = [];
    for (let h = 0; h < heads; h++) {
      const x: unknown = row[h];
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0)
        bad(`${field}[${l}][${h}]`, `must be a finite number ≥ 0, got ${show(x)}`);
      s += x;
      r.push(x);
    }
    if (!Number.isFinite(s)) bad(`${field}[${l}]`, 'sums to more than the largest finite number');
    if (normalised && Math.abs(s - 1) > 1e-6)
      bad(`${field}[${l}]`, `must sum to 1 (scores are normalised per layer), sums to ${s}`);
    out.push(r);
  }
  return out;
}

function text(v: unknown, field: string, nonEmpty: boolean): string {
  if (typeof v !== 'string' || (nonEmpty && !v)) bad(field, `must be a ${nonEmpty ? 'non-empty ' : ''}string`);
  if (v.length > HESS_FILE_LIMITS.maxStringLength)
    bad(field, `is longer than ${HESS_FILE_LIMITS.maxStringLength} characters`);
  return v;
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
    if (json.length > HESS_FILE_LIMITS.maxTextLength)
      bad('(root)', `is ${json.length} characters, over the ${HESS_FILE_LIMITS.maxTextLength} a HeSS file may have`);
    try {
      o = JSON.parse(json);
    } catch (e) {
      throw new HessError(
        'BAD_HESS_FILE',
        `HeSS file is not JSON: ${String(e)}`,
        'pass the text of a .hess.json file',
        { cause: e },
      );
    }
  }
  try {
    return check(o);
  } catch (e) {
    if (e instanceof HessError) throw e;
    // A hostile already-parsed object (throwing getters, proxies, cycles): never let its error escape untyped.
    throw new HessError(
      'BAD_HESS_FILE',
      `HeSS file could not be read: ${String(e)}`,
      'pass the text of a .hess.json file',
      { cause: e },
    );
  }
}

function check(o: unknown): HessFile {
  const f = record(o, '(root)');
  if (f.format !== 'hess-scores') bad('format', `must be "hess-scores", got ${show(f.format)}`);
  if (f.version !== HESS_FORMAT_VERSION) bad('version', `must be ${HESS_FORMAT_VERSION}, got ${show(f.version)}`);
  const modelId = text(f.modelId, 'modelId', true);
  if (f.model !== undefined && f.model !== 'vggt' && f.model !== 'pi3')
    bad('model', `must be "vggt" or "pi3" when present, got ${show(f.model)}`);
  const max = { layers: HESS_FILE_LIMITS.maxLayers, heads: HESS_FILE_LIMITS.maxHeads };
  for (const k of ['layers', 'heads'] as const) {
    const v = f[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > max[k])
      bad(k, `must be an integer in [1, ${max[k]}], got ${show(v)}`);
  }
  const layers = f.layers as number,
    heads = f.heads as number;
  if (layers * heads > HESS_FILE_LIMITS.maxEntries)
    bad('layers', `× heads = ${layers * heads} is over ${HESS_FILE_LIMITS.maxEntries}`);
  if (typeof f.lambda !== 'number' || !(f.lambda >= 0 && f.lambda <= 1))
    bad('lambda', `must be a number in [0, 1], got ${show(f.lambda)}`);
  const t = record(f.terms, 'terms');
  const camera = matrix(t.camera, 'terms.camera', layers, heads, false);
  const pointCloud = matrix(t.pointCloud, 'terms.pointCloud', layers, heads, false);
  const scores = matrix(f.scores, 'scores', layers, heads, true);
  const c = record(f.calibration, 'calibration');
  const description = text(c.description, 'calibration.description', false);
  if (typeof c.scenes !== 'number' || !Number.isSafeInteger(c.scenes) || c.scenes <= 0)
    bad('calibration.scenes', `must be a positive integer, got ${show(c.scenes)}`);
  return {
    format: 'hess-scores',
    version: HESS_FORMAT_VERSION,
    modelId,
    ...(f.model !== undefined && { model: f.model as 'vggt' | 'pi3' }),
    layers,
    heads,
    lambda: f.lambda as number,
    terms: { camera, pointCloud },
    scores,
    calibration: { description, scenes: c.scenes as number },
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
    const c = norm(row),
      p = norm(pointCloud[l]);
    return c.map((x, h) => lambda * x + (1 - lambda) * p[h]);
  });
}
