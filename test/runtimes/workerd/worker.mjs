// A Cloudflare Worker (run by workerd in test/runtimes/workerd.test.ts) using only `hess-vggt/planner`. workerd
// forbids compiling Wasm from bytes, so the planner gets precompiled modules: each build is a Wasm module of the
// Worker (workerd refuses `wasmModule` bindings in modules-format Workers), imported as a WebAssembly.Module.
import * as planner from 'hess-vggt/planner';
import simdModule from 'hess-vggt/planner-simd.wasm';
import scalarModule from 'hess-vggt/planner-scalar.wasm';
import { plan } from './plan.mjs';

export default {
  async fetch(request) {
    const url = new URL(request.url);
    const seed = Number(url.searchParams.get('seed'));
    // Without a module the planner must say what to do, as a typed error (not a raw CompileError).
    const noModule = await planner.PlannerWasm.load().then(
      () => null,
      (e) => ({ name: e.name, code: e.code, message: e.message }),
    );
    const simd = await planner.PlannerWasm.load({ module: simdModule });
    const scalar = await planner.PlannerWasm.load({ module: scalarModule });
    const body = {
      runtime: `workerd ${navigator.userAgent}`,
      moduleIsWasmModule: simdModule instanceof WebAssembly.Module && scalarModule instanceof WebAssembly.Module,
      noModule,
      simd: plan(planner, simd, seed),
      scalar: plan(planner, scalar, seed),
    };
    return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
  },
};
