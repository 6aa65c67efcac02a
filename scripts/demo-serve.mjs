// `npm run demo -- --serve [--port 8080] [--fixtures <dir>]`: serve the browser demo page (dist/demo) with the repo
// root (for /node_modules/onnxruntime-web/dist/) and the shared fixtures at /fixtures/, cross-origin isolated
// (COOP/COEP, so onnxruntime-web may use threads). Open the printed URL in a browser with WebGPU.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const port = Number(opt('port', 8080));
const fixtures = resolve(opt('fixtures', resolve(root, '../shared/fixtures')));
const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm',
  '.json': 'application/json', '.map': 'application/json', '.png': 'image/png', '.jpg': 'image/jpeg',
};

createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
  if (path === '/') { res.writeHead(302, { location: '/dist/demo/index.html' }).end(); return; }
  const file = path.startsWith('/fixtures/') ? join(fixtures, path.slice('/fixtures/'.length)) : join(root, path);
  if (!(file.startsWith(root) || file.startsWith(fixtures)) || !existsSync(file) || !statSync(file).isFile()) { res.writeHead(404).end(); return; }
  const size = statSync(file).size;
  const headers = {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'accept-ranges': 'bytes',
    'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cache-control': 'no-store',
  };
  // Range requests let the SDK stream a large checkpoint (VGGT-1B is ~5 GB) tensor by tensor.
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (m) {
    const start = Number(m[1]), end = Math.min(size - 1, m[2] ? Number(m[2]) : size - 1);
    if (start > end) { res.writeHead(416, { 'content-range': `bytes */${size}` }).end(); return; }
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
    if (req.method === 'HEAD') res.end(); else createReadStream(file, { start, end }).pipe(res);
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': size });
  if (req.method === 'HEAD') res.end(); else createReadStream(file).pipe(res);
}).listen(port, '127.0.0.1', () => {
  console.log(`demo: http://127.0.0.1:${port}/dist/demo/index.html  (model: /fixtures/vggt-tiny/ from ${fixtures})`);
  console.log(`      another checkpoint: put it under the repo or --fixtures and add ?model=/fixtures/<dir>/model.safetensors&size=518`);
  console.log('      Ctrl-C to stop');
});
