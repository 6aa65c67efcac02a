// The relative error every kernel test and fp16 bench reports (tests import it from here: bench/ may not import test/).

/** max |got − ref| / max |ref|: the relative error bound every kernel test uses. NaN anywhere → Infinity. */
export function relError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) throw new Error(`length ${got.length} vs ${ref.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i]! - ref[i]!);
    if (!Number.isFinite(d)) return Infinity;
    num = Math.max(num, d);
    den = Math.max(den, Math.abs(ref[i]!));
  }
  return num / Math.max(den, 1e-30);
}
