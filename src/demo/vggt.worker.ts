/**
 * The demo's Web Worker: the model runs here, behind the page's ModelWorker proxy (VGGT or π³), so the page (three.js view,
 * buttons, progress) stays responsive while onnxruntime-web computes. The build writes onnxruntime-web's import
 * as the URL the demo servers give it, /node_modules/onnxruntime-web/dist/ (import maps do not reach workers).
 */
import { attachVggtWorker } from '../worker/worker-handler.js';

attachVggtWorker(self as unknown as Parameters<typeof attachVggtWorker>[0]);
