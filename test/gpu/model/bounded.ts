/**
 * Wait for `p`, but fail after `ms` (default 10 min) instead of hanging: a generous bound that only a real hang
 * reaches, not a slow machine (no test here asserts how fast anything is).
 */
export function within<T>(p: Promise<T>, what: string, ms = 10 * 60_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 60_000} min (hang)`)), ms);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}
