# workerd config for test/runtimes/workerd.test.ts. The test bundles worker.mjs (with hess-vggt/planner) into
# this folder's copy as worker.bundle.mjs, copies the package's planner .wasm files next to it, and serves on a
# free port (--socket-addr http=127.0.0.1:0, the port read back through --control-fd).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .plannerWorker)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const plannerWorker :Workerd.Worker = (
  modules = [
    (name = "worker.bundle.mjs", esModule = embed "worker.bundle.mjs"),
    # Wasm modules: compiled by workerd at startup and imported by the Worker as WebAssembly.Module values.
    (name = "planner-simd.wasm", wasm = embed "planner-simd.wasm"),
    (name = "planner-scalar.wasm", wasm = embed "planner-scalar.wasm"),
  ],
  compatibilityDate = "2025-09-01",
);
