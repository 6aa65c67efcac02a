// `npm run demo -- --serve [--port 8080] [--fixtures <dir>]`: serve the browser demo page (dist/demo), onnxruntime-web's
// dist, the repo's models at /models/ and the fixtures at /fixtures/ on 127.0.0.1 only (scripts/demo-server.mjs: an allow-list, loopback Host names
// only). Open the printed URL in a browser with WebGPU.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDemoServer, DEMO_ENTRY } from './demo-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const port = Number(opt('port', 8080));
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`demo: --port must be an integer in [0, 65535], got ${opt('port')}`);
  process.exit(2);
}
const fixtures = resolve(opt('fixtures', resolve(root, '../shared/fixtures')));

const server = createDemoServer({ root, fixtures });
server.on('error', (e) => {
  console.error(`demo: cannot listen on 127.0.0.1:${port}: ${e.message}`);
  process.exit(2);
});
server.listen(port, '127.0.0.1', () => {
  const p = /** @type {import('node:net').AddressInfo} */ (server.address()).port; // a TCP server, listening
  console.log(`demo: http://127.0.0.1:${p}${DEMO_ENTRY}  (model: /models/vggt-synth/, the repo's trained tiny VGGT)`);
  console.log(
    '      another checkpoint: put it under --fixtures and add ?model=/fixtures/<dir>/model.safetensors&size=518',
  );
  console.log('      Ctrl-C to stop');
});
