/**
 * Image dimensions from a PNG or JPEG header, without decoding (pure: bytes in). Used to check `cameras.json`
 * against the real images: a view whose width/height contradict its image would give every metric the wrong
 * pixel scale.
 */

/** Bytes of a file's start that are enough for {@link imageHeaderSize} (JPEG EXIF/ICC segments come first). */
export const IMAGE_HEADER_BYTES = 1 << 18;

/**
 * `{ width, height }` from the PNG IHDR chunk or the first JPEG start-of-frame segment in `head` (the file's first
 * bytes), or `undefined` when `head` is not a PNG/JPEG or ends before the size.
 *
 * @example const size = imageHeaderSize(await readFirstBytes('images/000.jpg'));
 */
export function imageHeaderSize(head: Uint8Array): { width: number; height: number } | undefined {
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (head.length >= 24 && png.every((b, i) => head[i] === b)) {
    if (String.fromCharCode(head[12], head[13], head[14], head[15]) !== 'IHDR') return undefined;
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (!(head.length >= 4 && head[0] === 0xff && head[1] === 0xd8)) return undefined;
  let i = 2;
  while (i + 4 <= head.length) {
    if (head[i] !== 0xff) return undefined; // not at a marker: corrupt
    const m = head[i + 1];
    if (m === 0xff) { i++; continue; } // fill byte
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) { i += 2; continue; } // markers without a length
    const len = dv.getUint16(i + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): [len][precision][height][width]
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (i + 9 > head.length) return undefined;
      return { width: dv.getUint16(i + 7), height: dv.getUint16(i + 5) };
    }
    if (m === 0xda || m === 0xd9 || len < 2) return undefined; // scan data or end before any frame header
    i += 2 + len;
  }
  return undefined;
}
