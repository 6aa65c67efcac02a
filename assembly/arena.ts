// A bump arena over linear memory: the host resets it, allocates its inputs/outputs, calls a kernel, reads the
// results, and resets again. No GC, no per-object headers: the module is built with `--runtime stub`.
// After any call that may grow memory the host must re-create its typed-array views (the buffer is replaced).

let top: usize = 0;

function base(): usize {
  return (__heap_base + 15) & ~<usize>15;
}

/** Forget every allocation. */
export function arenaReset(): void {
  top = base();
}

/** Allocate `bytes` (16-byte aligned), growing memory when needed. Returns 0 if memory cannot grow. */
export function arenaAlloc(bytes: usize): usize {
  if (top == 0) top = base();
  const ptr = top;
  if (bytes > <usize>0xfffe0000 - ptr) return 0; // past the 4 GiB address space: ptr + bytes would wrap
  const end = (ptr + bytes + 15) & ~<usize>15;
  const have = <usize>memory.size() << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) return 0;
  }
  top = end;
  return ptr;
}

/** Bytes currently allocated (for tests and diagnostics). */
export function arenaUsed(): usize {
  return top == 0 ? 0 : top - base();
}
