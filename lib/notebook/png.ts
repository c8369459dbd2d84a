/**
 * A small PNG encoder: 8-bit RGB or RGBA, no interlacing, compressed with
 * Node's zlib. Enough for images shown in notebooks and saved by tests.
 * Format: https://www.w3.org/TR/png/ (signature, IHDR, IDAT, IEND chunks).
 */
import { deflateSync } from 'zlib';
import { ValueError } from '../core/errors';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** CRC-32 table (polynomial 0xEDB88320), as the PNG specification's sample code builds it. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Encodes `pixels` (row-major, `channels` bytes per pixel: 3 = RGB, 4 = RGBA)
 * as a PNG file.
 */
export function encodePng(width: number, height: number, pixels: Uint8Array, channels: 3 | 4): Buffer {
  for (const [name, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 0x7fffffff) {
      throw new ValueError(`encodePng(${name}): must be a positive integer. Received ${value}.`);
    }
  }
  if (channels !== 3 && channels !== 4) {
    throw new ValueError(`encodePng(channels): must be 3 (RGB) or 4 (RGBA). Received ${channels}.`);
  }
  if (!(pixels instanceof Uint8Array) || pixels.length !== width * height * channels) {
    throw new ValueError(
      `encodePng(pixels): expected a Uint8Array of width * height * channels = ${width * height * channels} bytes. ` +
        `Received ${pixels instanceof Uint8Array ? `${pixels.length} bytes` : Object.prototype.toString.call(pixels)}.`,
    );
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = channels === 4 ? 6 : 2; // colour type: 6 = RGBA, 2 = RGB
  header[10] = 0; // compression: deflate
  header[11] = 0; // filter method 0
  header[12] = 0; // no interlace

  // Each row starts with its filter type; "Sub" (1: difference to the pixel on the left)
  // compresses photographs and smooth drawings better than none, for little work.
  const stride = width * channels;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const row = y * (stride + 1);
    const source = y * stride;
    raw[row] = 1;
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? pixels[source + i - channels] : 0;
      raw[row + 1 + i] = (pixels[source + i] - left) & 0xff;
    }
  }
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}
