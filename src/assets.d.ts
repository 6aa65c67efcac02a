// Build-time assets: esbuild (and the vitest plugin) inline WGSL as text and our small Wasm modules as bytes.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
declare module '*.wasm' {
  const bytes: Uint8Array;
  export default bytes;
}
