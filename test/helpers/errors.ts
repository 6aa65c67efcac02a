import { expect } from 'vitest';
import { HessError } from '../../src/errors.js';

/**
 * Assert that `p` (a promise or a function) fails with a HessError of `code` (and a message matching `match`);
 * returns the error, for checks on its `fix`.
 */
export async function expectCode(
  p: Promise<unknown> | (() => unknown),
  code: string,
  match?: RegExp,
): Promise<HessError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(HessError);
    expect((e as HessError).code).toBe(code);
    if (match) expect((e as HessError).message).toMatch(match);
    return e as HessError;
  }
  throw new Error(`expected HessError ${code}, nothing was thrown`);
}
