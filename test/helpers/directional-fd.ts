// The calibration gradients' float64 finite-difference check, shared by VGGT's and π³'s gradient tests: a model
// gives the float32 ∂e/∂W_Q of both error terms and the exact float64 tail of its forward pass from a global layer
// on; this compares directional derivatives in one head's query rows.
import { expect } from 'vitest';
import { randn } from './random.js';

/** One model's side of the check. */
export interface DirectionalCheck<Cam> {
  C: number;
  d: number;
  numHeads: number;
  rand: () => number;
  /** Per global layer, the float32 ∂e_cam/∂W_Q and ∂e_pc/∂W_Q as calibrated, `[C, C]` (PyTorch layout). */
  gCam: Float32Array[];
  gPc: Float32Array[];
  /** Global layer L's checkpoint `attn.qkv.weight`, `[3C, C]`. */
  qkv(L: number): Promise<ArrayLike<number>>;
  /** The frozen errors in float64 as a function of layer L's qkv weight (`[C, 3C]`, graph layout), with the cameras. */
  tail(L: number): Promise<(qkvT: Float64Array) => { camera: number; pointCloud: number; cameras: Cam }>;
  /** The float32 ∂e_cam/∂W_Q of layer L with the camera cotangent taken at `cameras` (same network backward). */
  cameraGradAt(cameras: Cam, L: number): Promise<Float32Array>;
  /** Log prefix. */
  label: string;
}

/**
 * For each layer, a random head h and a direction D in its query rows (the mean of both gradients' and a random
 * unit direction, scaled to the rows' norm): the float32 gradients' derivative along D against float64 central
 * differences (step 1e-5). The camera term is compared linearised at the float64 forward point, and the
 * as-calibrated camera gradient's whole gap (to 1e-3 relative) must be that change of point; the point-cloud term
 * as calibrated. Returns the worst relative errors.
 */
export async function directionalErrors<Cam>(
  layers: readonly number[],
  m: DirectionalCheck<Cam>,
): Promise<{ camera: number; pointCloud: number; cameraAsCalibrated: number }> {
  const { C, d, rand } = m;
  const worst = { camera: 0, pointCloud: 0, cameraAsCalibrated: 0 };
  for (const L of layers) {
    const h = Math.floor(rand() * m.numHeads);
    const f = await m.tail(L);
    const W0 = await m.qkv(L); // [3C, C]
    const rows = (a: ArrayLike<number>) => Float64Array.from({ length: d * C }, (_, k) => a[h * d * C + k]!);
    const unit = (a: ArrayLike<number>) => {
      let s = 0;
      for (let i = 0; i < a.length; i++) s += a[i]! ** 2;
      return Float64Array.from(a, (v) => v / Math.sqrt(s));
    };
    const gc = unit(rows(m.gCam[L]!)),
      gp = unit(rows(m.gPc[L]!)),
      r = unit(randn(d * C, rand));
    const wn = Math.sqrt(rows(W0).reduce((a, v) => a + v * v, 0));
    const D = new Float64Array(3 * C * C); // PyTorch layout [3C, C]; only head h's query rows move
    for (let k = 0; k < d * C; k++) D[h * d * C + k] = ((gc[k]! + gp[k]! + r[k]!) * wn) / 3;
    const pred = { camera: 0, pointCloud: 0 };
    for (let k = 0; k < C * C; k++) {
      pred.camera += m.gCam[L]![k]! * D[k]!;
      pred.pointCloud += m.gPc[L]![k]! * D[k]!;
    }
    const eps = 1e-5;
    const at = (sgn: number) => {
      const qkvT = new Float64Array(3 * C * C); // [3C, C] → [C, 3C]
      for (let o = 0; o < 3 * C; o++)
        for (let i = 0; i < C; i++) qkvT[i * 3 * C + o] = W0[o * C + i]! + sgn * eps * D[o * C + i]!;
      return f(qkvT);
    };
    const e = [at(1), at(-1)];
    // the camera gradient with its cotangent taken at the float64 forward point (same network backward)
    const g64 = await m.cameraGradAt(at(0).cameras, L);
    let pred64 = 0;
    for (let k = 0; k < C * C; k++) pred64 += g64[k]! * D[k]!;
    const fd = {
      camera: (e[0]!.camera - e[1]!.camera) / (2 * eps),
      pointCloud: (e[0]!.pointCloud - e[1]!.pointCloud) / (2 * eps),
    };
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
    const re = {
      camera: rel(pred64, fd.camera),
      pointCloud: rel(pred.pointCloud, fd.pointCloud),
      cameraAsCalibrated: rel(pred.camera, fd.camera),
    };
    console.info(
      `[${m.label}] layer ${L} head ${h}: FD64 camera ${fd.camera.toExponential(6)} / point cloud ${fd.pointCloud.toExponential(6)}; ` +
        `rel. error camera ${re.camera.toExponential(2)} (as calibrated ${re.cameraAsCalibrated.toExponential(2)}), point cloud ${re.pointCloud.toExponential(2)}`,
    );
    for (const k of ['camera', 'pointCloud', 'cameraAsCalibrated'] as const) worst[k] = Math.max(worst[k], re[k]);
    // what is left of the as-calibrated gradient's gap once the change of linearisation point is accounted for
    expect(Math.abs(pred.camera - fd.camera)).toBeLessThan(Math.abs(pred.camera - pred64) + 1e-3 * Math.abs(fd.camera));
  }
  console.info(`[${m.label}] worst relative error`, worst);
  return worst;
}
