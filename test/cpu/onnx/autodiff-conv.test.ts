// Gradients of the DPT-head ops: Conv, ConvTranspose and bilinear Resize.
import { describe, it } from 'vitest';
import { freshSeed, rng } from '../../helpers/random.js';
import { checkGrad, op } from './grad-harness.js';

const rand = rng(freshSeed('autodiff-conv'));

describe('buildGradientGraph: convolution and resize gradients vs float64 finite differences', () => {
  it('Conv 3×3, pad 1, with bias', async () => {
    await checkGrad(
      'conv3',
      rand,
      [
        { name: 'x', dims: [1, 3, 4, 5] },
        { name: 'w', dims: [4, 3, 3, 3], init: true },
        { name: 'b', dims: [4] },
      ],
      (g, v) => op(g, 'Conv', [v.x, v.w, v.b], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
    );
  });

  it('Conv with stride 2 (odd size, floor drops a row), dilation, asymmetric pads and groups', async () => {
    await checkGrad(
      'conv-strided',
      rand,
      [
        { name: 'x', dims: [1, 4, 7, 6] },
        { name: 'w', dims: [6, 2, 2, 3] },
      ],
      (g, v) => op(g, 'Conv', [v.x, v.w], { strides: [2, 2], dilations: [2, 1], pads: [1, 0, 0, 2], group: 2 }),
    );
  });

  it('ConvTranspose with stride = kernel (DPT upsampling), with bias', async () => {
    await checkGrad(
      'convT',
      rand,
      [
        { name: 'x', dims: [1, 3, 3, 4] },
        { name: 'w', dims: [3, 2, 2, 2] },
        { name: 'b', dims: [2], init: true },
      ],
      (g, v) => op(g, 'ConvTranspose', [v.x, v.w, v.b], { strides: [2, 2], kernel_shape: [2, 2] }),
    );
  });

  it('ConvTranspose with pads, output_padding, dilation and groups', async () => {
    await checkGrad(
      'convT-general',
      rand,
      [
        { name: 'x', dims: [2, 4, 3, 3] },
        { name: 'w', dims: [4, 1, 3, 2] },
      ],
      (g, v) =>
        op(g, 'ConvTranspose', [v.x, v.w], {
          strides: [2, 3],
          pads: [1, 0, 0, 1],
          output_padding: [1, 2],
          dilations: [1, 2],
          group: 2,
        }),
    );
  });

  it('Resize bilinear (align_corners, by sizes) and half_pixel (by scales)', async () => {
    await checkGrad('resize', rand, [{ name: 'x', dims: [1, 2, 3, 4] }], (g, v) => {
      const up = op(g, 'Resize', [v.x, '', '', g.ints([1, 2, 7, 5])], {
        mode: 'linear',
        coordinate_transformation_mode: 'align_corners',
      });
      const hp = op(g, 'Resize', [v.x, '', g.floats([1, 1, 2, 1.5])], {
        mode: 'linear',
        coordinate_transformation_mode: 'half_pixel',
      });
      return op(g, 'Add', [op(g, 'ReduceSum', [up, g.ints([2, 3])], { keepdims: 1 }), hp]); // [1,2,6,6]
    });
  });
});
