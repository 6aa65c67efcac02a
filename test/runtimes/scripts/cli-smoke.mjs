// Entry for Deno and Bun: `<runtime> cli-smoke.mjs [--gpu]`, run from a scratch project whose node_modules/hess-vggt
// links to this repo, so the package is imported the way an installed user would (package.json `exports`, through
// the `deno` / `node` conditions). Prints one `SMOKE {json}` line.
import * as main from 'hess-vggt';
import * as advanced from 'hess-vggt/advanced';
import * as planner from 'hess-vggt/planner';
import { smoke } from './smoke.mjs';

const args = typeof Deno !== 'undefined' ? Deno.args : process.argv.slice(2);
const sdk = { ...main, ...advanced };
const report = await smoke(sdk, { gpu: args.includes('--gpu'), planner });
console.log(`SMOKE ${JSON.stringify(report)}`);
if (typeof Deno !== 'undefined') Deno.exit(0);
else process.exit(0);
