// Page entry of the bundled app: the app on the page, then the same bundle code in a module worker, then the
// in-repo tiny VGGT loaded and run on the wasm EP.
import { runApp, runModel } from './app.mjs';

const wasmPaths = new URL('/node_modules/onnxruntime-web/dist/', location.href).href;
try {
  const page = await runApp(wasmPaths);
  const worker = await new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    w.onmessage = (e) => resolve(e.data);
    w.onerror = (e) => reject(new Error(e.message));
  });
  const model = await runModel(new URL('/models/vggt-synth/model.safetensors', location.href).href, wasmPaths);
  window.__result = { page, worker, model };
} catch (e) {
  window.__result = { error: String(e?.stack ?? e) };
}
