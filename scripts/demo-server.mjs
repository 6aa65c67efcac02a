// The demo page's static server (scripts/demo-serve.mjs starts it; tests import it). It serves an allow-list only:
// /dist/demo/ (the page), /node_modules/onnxruntime-web/dist/ (ORT's modules and .wasm), /models/ (the repo's model)
// and /fixtures/ (other models),
// each resolved with realpath and checked to stay inside its folder, so neither the repo nor .git is reachable. A
// request whose Host is not a loopback name (127.0.0.1, localhost, [::1]) with our port gets 403, which closes DNS
// rebinding from web pages. Malformed URLs get 400 and never reach the file system; no request can crash it.
// Responses are cross-origin isolated (COOP/COEP, so onnxruntime-web may use threads) and support byte ranges.
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, relative, isAbsolute, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
};

/** The page's entry, where `/` redirects. */
export const DEMO_ENTRY = '/dist/demo/index.html';

const inside = (dir, file) => {
  const rel = relative(dir, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
};

/**
 * A `node:http` server (not yet listening) for the demo: `createDemoServer({ root, fixtures }).listen(8080, '127.0.0.1')`.
 * `root` is the repository (its dist/demo, models and node_modules/onnxruntime-web/dist are served), `fixtures` a folder
 * of other models (optional: absent, its URLs are 404).
 */
export function createDemoServer({ root, fixtures }) {
  const mounts = [
    ['/dist/demo/', join(root, 'dist/demo')],
    ['/node_modules/onnxruntime-web/dist/', join(root, 'node_modules/onnxruntime-web/dist')],
    ['/models/', join(root, 'models')], // the page's default model (models/vggt-synth): a fresh clone needs nothing else
    ['/fixtures/', fixtures],
  ];
  const realMounts = new Map(); // mount folder → its realpath (node_modules may be a symlink), resolved once
  const realMount = async (dir) => {
    if (!realMounts.has(dir)) realMounts.set(dir, await realpath(dir).catch(() => null));
    return realMounts.get(dir);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // Anything unexpected (a file vanishing mid-request…): answer if we still can, never throw out of the handler.
      if (!res.headersSent) res.writeHead(404).end();
      else res.destroy();
    });
  });

  // CONNECT and Upgrade requests bypass the request handler; without these Node would drop them unanswered.
  const refuse = (_req, socket) => socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  server.on('connect', refuse);
  server.on('upgrade', refuse);

  const loopbackHosts = () => {
    const port = /** @type {import('node:net').AddressInfo | null} */ (server.address())?.port; // TCP, never a pipe
    return new Set(['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${port}`));
  };

  async function handle(req, res) {
    const end = (code, headers = {}) => res.writeHead(code, headers).end();
    if (!loopbackHosts().has(String(req.headers.host ?? '').toLowerCase())) return end(403);
    if (req.method !== 'GET' && req.method !== 'HEAD') return end(400);
    const url = req.url ?? '';
    if (!url.startsWith('/')) return end(400);
    let path;
    try {
      path = decodeURIComponent(new URL(url, 'http://localhost').pathname);
    } catch {
      return end(400); // e.g. GET /% (a URIError that used to kill the process)
    }
    if (path.includes('\0') || path.includes('\\')) return end(400);
    if (path === '/') return end(302, { location: DEMO_ENTRY });
    const mount = mounts.find(([prefix]) => path.startsWith(prefix));
    if (!mount) return end(404);
    const rest = path.slice(mount[0].length);
    if (rest.split('/').some((s) => s === '..' || s === '.')) return end(404);
    const base = await realMount(mount[1]);
    if (!base) return end(404);
    const file = await realpath(join(mount[1], rest)).catch(() => null);
    // realpath: a symlink inside a served folder that points out of it is not followed out.
    if (!file || !inside(base, file)) return end(404);
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) return end(404);
    const size = st.size;
    const headers = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'accept-ranges': 'bytes',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cache-control': 'no-store',
    };
    const send = (code, extra, range) => {
      res.writeHead(code, { ...headers, ...extra });
      if (req.method === 'HEAD') return res.end();
      const stream = createReadStream(file, range);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    };
    // Range requests let the SDK stream a large checkpoint (VGGT-1B is ~5 GB) tensor by tensor. A range header
    // we do not understand is ignored (the whole file), as RFC 9110 allows.
    const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(String(req.headers.range ?? ''));
    if (m) {
      const start = Number(m[1]);
      const end_ = Math.min(size - 1, m[2] ? Number(m[2]) : size - 1);
      if (start >= size || start > end_) return end(416, { 'content-range': `bytes */${size}` });
      return send(
        206,
        { 'content-range': `bytes ${start}-${end_}/${size}`, 'content-length': end_ - start + 1 },
        { start, end: end_ },
      );
    }
    return send(200, { 'content-length': size });
  }

  return server;
}
