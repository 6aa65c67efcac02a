// The Vulkan driver that gives Dawn (npm `webgpu`) and Deno a WebGPU adapter on a machine without a GPU:
// Mesa 25 lavapipe extracted by scripts/setup-system.sh when present (faster; shader-f16 + subgroups), else the
// SwiftShader ICD that Debian's chromium package ships. A caller-set VK_ICD_FILENAMES wins.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const mesa = `${root}.cache/mesa25`;
const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * @param {NodeJS.ProcessEnv} env
 * @returns {NodeJS.ProcessEnv & { HESS_VULKAN: string }}
 */
export function gpuEnv(env = process.env) {
  if (env.VK_ICD_FILENAMES) return { ...env, HESS_VULKAN: env.HESS_VULKAN ?? 'user' };
  if (env.HESS_VULKAN !== 'swiftshader' && existsSync(`${mesa}/lvp_icd.json`)) {
    const lib = `${mesa}/usr/lib/x86_64-linux-gnu`;
    return {
      ...env,
      VK_ICD_FILENAMES: `${mesa}/lvp_icd.json`,
      LD_LIBRARY_PATH: env.LD_LIBRARY_PATH ? `${lib}:${env.LD_LIBRARY_PATH}` : lib,
      HESS_VULKAN: 'lavapipe',
    };
  }
  if (existsSync(swiftshader)) return { ...env, VK_ICD_FILENAMES: swiftshader, HESS_VULKAN: 'swiftshader' };
  return { ...env, HESS_VULKAN: 'none' };
}
