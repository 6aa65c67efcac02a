// Worker entry of the bundled app (import maps do not reach workers: only a bundle resolves ORT here).
import { runApp } from './app.mjs';

const wasmPaths = new URL('/node_modules/onnxruntime-web/dist/', location.href).href;
runApp(wasmPaths).then(
  (r) => postMessage(r),
  (e) => postMessage({ error: String(e?.stack ?? e) }),
);
