/** Evaluation metrics (camera RRA/RTA/AUC, point-cloud accuracy/completeness/Chamfer/F1, depth AbsRel). */
export * from './metrics.js';
