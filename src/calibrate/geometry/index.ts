/** Calibration geometry: 3×3 linear algebra, similarity alignment, nearest neighbours and the HeSS error terms. */
export * from './mat3.js';
export {
  umeyama,
  applySimilarity,
  composeSimilarity,
  invertSimilarity,
  identitySimilarity,
  transformExtrinsics,
  refineIcp,
  isRotation,
} from './align.js';
export type { Similarity, UmeyamaOptions, IcpOptions, IcpResult } from './align.js';
export * from './knn.js';
export * from './errors.js';
