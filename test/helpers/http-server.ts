// A static file server on 127.0.0.1 (node:http, loopback only, a random free port) for URL-loading tests:
// serves files from a folder with or without Range support, and can fail chosen requests.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface TestServer {
  /** `http://127.0.0.1:<port>/` */
  base: string;
  /** Every request: `METHOD path range`. */
  log: string[];
  /** Most requests in flight at once. */
  peakInFlight: number;
  /** Set per test: false → answer every GET with 200 and the whole file. */
  ranges: boolean;
  /** Called per request: return a status to fail it with (e.g. 503), or undefined to serve it. */
  fail?: (path: string, range: string) => number | undefined;
  close(): Promise<void>;
}

export async function startServer(root: string): Promise<TestServer> {
  let inFlight = 0;
  const srv: TestServer = {
    base: '',
    log: [],
    peakInFlight: 0,
    ranges: true,
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const range = req.headers.range ?? '';
    srv.log.push(`${req.method} ${path} ${range}`.trim());
    const failWith = srv.fail?.(path, range);
    if (failWith) return res.writeHead(failWith).end();
    const file = join(root, normalize(path).replace(/^(\.\.[/\\])+/, ''));
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) return res.writeHead(404).end('not found');
    const headers = { etag: `"${st.size}-${st.mtimeMs}"`, 'accept-ranges': srv.ranges ? 'bytes' : 'none' };
    const m = /^bytes=(\d+)-(\d*)$/.exec(range);
    if (srv.ranges && m) {
      const a = Number(m[1]);
      const b = Math.min(m[2] ? Number(m[2]) : st.size - 1, st.size - 1);
      if (a > b) return res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end();
      res.writeHead(206, { ...headers, 'content-length': b - a + 1, 'content-range': `bytes ${a}-${b}/${st.size}` });
      if (req.method === 'HEAD') return res.end();
      return void createReadStream(file, { start: a, end: b }).pipe(res);
    }
    res.writeHead(200, { ...headers, 'content-length': st.size });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  };
  const server = createServer((req, res) => {
    inFlight++;
    srv.peakInFlight = Math.max(srv.peakInFlight, inFlight);
    res.on('close', () => inFlight--);
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  srv.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return srv;
}
