// Page entry of the bundled app: the app on the page, then the same bundle code in a module worker.
import { runApp } from './app.mjs';

const wasmPaths = new URL('/node_modules/onnxruntime-web/dist/', location.href).href;
try {
  const page = await runApp(wasmPaths);
  const worker = await new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    w.onmessage = (e) => resolve(e.data);
    w.onerror = (e) => reject(new Error(e.message));
  });
  window.__result = { page, worker };
} catch (e) {
  window.__result = { error: String(e?.stack ?? e) };
}
