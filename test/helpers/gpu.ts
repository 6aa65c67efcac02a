import { createDevice, type HessDevice } from '../../src/gpu/device.js';

let shared: Promise<HessDevice> | undefined;

/**
 * The one device a test file uses (creating devices is slow on software adapters). Runs on whatever Vulkan driver
 * scripts/gpu-env.mjs chose (Mesa 25 lavapipe or SwiftShader); a missing adapter fails the test with a fix-it.
 */
export function testDevice(): Promise<HessDevice> {
  shared ??= createDevice().then((d) => {
    console.info(
      `[gpu] ${d.name} f16=${d.features.shaderF16} subgroups=${d.features.subgroups} (HESS_VULKAN=${process.env.HESS_VULKAN ?? '?'})`,
    );
    return d;
  });
  return shared;
}

/**
 * In CI a capability the adapter lacks is a failure, not a skip (CI's lavapipe has shader-f16); locally the
 * test is skipped with a line saying why.
 */
export function mustHave(have: boolean, what: string): boolean {
  if (have) return true;
  if (process.env.CI) throw new Error(`CI needs ${what}; run scripts/setup-system.sh (Mesa 25 lavapipe)`);
  console.warn(`[skip] ${what} not available on this adapter`);
  return false;
}
