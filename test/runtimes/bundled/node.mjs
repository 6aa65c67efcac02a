// Node entry of the bundled app: prints one `SMOKE {json}` line. ORT is inside the bundle, so its .mjs/.wasm files
// are not next to it: the app says where they are (argv[2], a file URL prefix), as a bundling app must.
import { runApp } from './app.mjs';

const r = await runApp(process.argv[2]);
console.log(`SMOKE ${JSON.stringify(r)}`);
