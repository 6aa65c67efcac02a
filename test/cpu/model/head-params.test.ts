import { describe, expect, it } from 'vitest';
import { type HeadParam, loadHeadFeeds } from '../../../src/model/heads/head-params.js';
import { bytesSource, openSafetensors } from '../../../src/model/source/safetensors.js';
import { loadOrt } from '../../../src/runtime/ort.js';
import { buildSafetensors } from './st-helpers.js';

// A head weight whose value count differs from what the graph declares is refused by one check, whichever path loads
// it (the device path: test/gpu/model/device-weights.test.ts, which compares the two paths' errors).
describe('head weights of the wrong value count', () => {
  it('are BAD_CHECKPOINT on the host path (the wasm EP), truncated or too long', async () => {
    const st = await openSafetensors(bytesSource(buildSafetensors([{ name: 'h.w', dtype: 'F32', shape: [6] }])));
    const ort = await loadOrt();
    for (const dims of [[7], [5], [2, 2]]) {
      const bad: HeadParam[] = [{ key: 'w', input: 'w', dims }];
      await expect(loadHeadFeeds(st, 'h', bad, ort, { ep: 'wasm' })).rejects.toMatchObject({ code: 'BAD_CHECKPOINT' });
    }
    const ok = await loadHeadFeeds(st, 'h', [{ key: 'w', input: 'w', dims: [2, 3] }], ort, { ep: 'wasm' });
    expect(ok.feeds.w!.dims).toEqual([2, 3]);
  });
});
