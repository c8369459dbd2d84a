/**
 * Reading and writing NumPy .npy files (format versions 1, 2 and 3).
 *
 * The array data is decoded by `npyjs` where it can: little-endian files on a
 * little-endian machine, every integer and float dtype. npyjs 1.2 cannot read
 * big-endian files (it throws "Unsupported dtype: >i8"), does not check that
 * the file holds as many bytes as the header announces, and ignores
 * `fortran_order`; this module parses and checks the header itself, byte-swaps
 * big-endian data, and reorders Fortran-ordered arrays to C order.
 *
 * Errors are {@link NpyFormatError}s (a {@link DataFileError}) that name the file; a valid file too
 * large to read into one buffer is an {@link NpyTooLargeError}, which says its size and the limit.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import { DataFileError, ValueError } from '../core/errors';
import { writeFileAtomic } from '../core/atomic-write';

// npyjs ships its types as an ES module, which a CommonJS file may not import;
// its CommonJS build is what `require` loads. This is the part of its API we use.
interface NpyjsModule {
  parse(buffer: ArrayBuffer): { data: ArrayBufferView; shape: number[]; dtype: string; fortranOrder: boolean };
  float16ToFloat32(bits: number): number;
}
const npyjs: NpyjsModule = require('npyjs');

/** The element types read from .npy files, by their NumPy names. */
export type NpyDtype =
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64';

/** The typed arrays holding decoded data (float16 is widened to Float32Array). */
export type NpyData =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** What the header of a .npy file says. */
export interface NpyHeader {
  /** The NumPy type string as written, e.g. '<f4', '>i8', '|u1'. */
  descr: string;
  dtype: NpyDtype;
  /** Bytes per element in the file. */
  itemSize: number;
  littleEndian: boolean;
  fortranOrder: boolean;
  shape: number[];
  /** Number of elements (the product of `shape`). */
  size: number;
  /** Offset of the first data byte. */
  dataOffset: number;
  /** Total file size the header implies: dataOffset + size * itemSize. */
  fileBytes: number;
  version: [number, number];
}

/** A decoded array: data in C (row-major) order, in this machine's byte order. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
  /** The type string as it was in the file, e.g. '>i8'. */
  descr: string;
}

/** A .npy file that cannot be read: `reason` is the message without the file name. */
export class NpyFormatError extends DataFileError {
  constructor(
    file: string,
    readonly reason: string,
  ) {
    super(file, reason);
    this.name = 'NpyFormatError';
  }
}

/**
 * The most `readNpy` reads: Node's fs.readFile reads at most 2 GiB - 1 bytes into one Buffer
 * (ERR_FS_FILE_TOO_LARGE, https://nodejs.org/api/errors.html#err_fs_file_too_large).
 */
export const NPY_READ_LIMIT = 2 ** 31 - 1;

function formatSize(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A valid .npy file larger than {@link NPY_READ_LIMIT}: the message says how large, the limit, and how to split it. */
export class NpyTooLargeError extends DataFileError {
  constructor(
    file: string,
    readonly header: NpyHeader,
    readonly bytes: number,
  ) {
    super(file, NpyTooLargeError.reason(file, header, bytes));
    this.name = 'NpyTooLargeError';
  }

  private static reason(file: string, header: NpyHeader, bytes: number): string {
    const { shape, itemSize, dataOffset } = header;
    const rowBytes = shape.slice(1).reduce((a, b) => a * b, 1) * itemSize;
    const rows = shape.length > 0 && rowBytes > 0 ? Math.floor((NPY_READ_LIMIT - dataOffset) / rowBytes) : 0;
    const split =
      shape.length > 0 && rows > 0
        ? ` Split it into files of at most ${rows} ${shape.length > 1 ? 'rows' : 'elements'} (of ${shape[0]}), e.g. in Python: ` +
          `\`a = np.load(${JSON.stringify(file)}, mmap_mode='r'); np.save('part1.npy', a[:${rows}]); np.save('part2.npy', a[${rows}:])\`, and load the parts one by one.`
        : '';
    return (
      `is a valid .npy file (shape ${describeShape(shape)} of '${header.descr}'), but too large to read into memory at once: ` +
      `it is ${formatSize(bytes)} (${bytes} bytes), and Node.js reads at most 2 GiB (${NPY_READ_LIMIT} bytes) into one buffer ` +
      `(a tensor holds at most 4 GiB on the wasm backend).${split}`
    );
  }
}

type TypedArrayConstructor = {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NpyData;
  new (length: number): NpyData;
};

interface DtypeInfo {
  dtype: NpyDtype;
  ctor: TypedArrayConstructor;
}

/** Type codes (without byte order) -> dtype. */
const SUPPORTED: { [code: string]: DtypeInfo } = {
  i1: { dtype: 'int8', ctor: Int8Array },
  u1: { dtype: 'uint8', ctor: Uint8Array },
  i2: { dtype: 'int16', ctor: Int16Array },
  u2: { dtype: 'uint16', ctor: Uint16Array },
  i4: { dtype: 'int32', ctor: Int32Array },
  u4: { dtype: 'uint32', ctor: Uint32Array },
  i8: { dtype: 'int64', ctor: BigInt64Array as unknown as TypedArrayConstructor },
  u8: { dtype: 'uint64', ctor: BigUint64Array as unknown as TypedArrayConstructor },
  f2: { dtype: 'float16', ctor: Float32Array },
  f4: { dtype: 'float32', ctor: Float32Array },
  f8: { dtype: 'float64', ctor: Float64Array },
};

const DTYPE_CODES: { [dtype in NpyDtype]: string } = {
  int8: 'i1',
  uint8: 'u1',
  int16: 'i2',
  uint16: 'u2',
  int32: 'i4',
  uint32: 'u4',
  int64: 'i8',
  uint64: 'u8',
  float16: 'f2',
  float32: 'f4',
  float64: 'f8',
};

/** NumPy names of the types we refuse, so the message can say what the file holds. */
function unsupportedName(code: string): string {
  const kind = code[0];
  const names: { [kind: string]: string } = {
    b: 'bool',
    c: 'complex',
    U: 'unicode strings',
    S: 'byte strings',
    a: 'byte strings',
    O: 'Python objects (pickled)',
    M: 'datetime64',
    m: 'timedelta64',
    V: 'raw or structured records',
    f: 'a float width other than 16, 32 or 64 bits',
    i: 'an integer width other than 8, 16, 32 or 64 bits',
    u: 'an integer width other than 8, 16, 32 or 64 bits',
  };
  return names[kind] ?? 'an unknown type';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const HOST_LITTLE_ENDIAN = os.endianness() === 'LE';
const SUPPORTED_LIST = 'uint8, int8, uint16, int16, uint32, int32, uint64, int64, float16, float32 or float64';

function describeShape(shape: number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * Parses the header at the start of `bytes` (which may hold only the first few
 * hundred bytes of the file). Throws {@link NpyFormatError} naming `file`.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  const fail = (reason: string): never => {
    throw new NpyFormatError(file, reason);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    const start = Buffer.from(bytes.subarray(0, 16)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
    fail(
      bytes.length === 0
        ? 'is empty, not a NumPy .npy file.'
        : `is not a NumPy .npy file (it does not start with "\\x93NUMPY"; it starts with ${JSON.stringify(start)}).`,
    );
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (major < 1 || major > 3) fail(`has .npy format version ${major}.${minor}, which is not one of 1.0, 2.0, 3.0.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail('is truncated inside its .npy header.');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = 8 + lengthBytes + headerLength;
  if (bytes.length < dataOffset) fail('is truncated inside its .npy header.');
  const header = Buffer.from(bytes.subarray(8 + lengthBytes, dataOffset)).toString(major === 3 ? 'utf8' : 'latin1');

  if (/['"]descr['"]\s*:\s*\[/.test(header)) {
    fail('holds a structured array (several named fields per element); save one plain numeric array per file.');
  }
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    fail(`has a malformed .npy header (expected 'descr', 'fortran_order' and 'shape'): ${JSON.stringify(header.trim())}.`);
  }
  const shape: number[] = [];
  for (const part of shapeText!.split(',').map((s) => s.trim())) {
    if (part === '') continue;
    // Python 2 wrote long integers with an L suffix.
    if (!/^\d+L?$/.test(part)) fail(`has a malformed shape in its .npy header: (${shapeText}).`);
    shape.push(Number.parseInt(part, 10));
  }

  const order = descr![0];
  const code = '<>|='.includes(order) ? descr!.slice(1) : descr!;
  const info = SUPPORTED[code];
  if (!info) {
    fail(
      `has dtype '${descr}' (${unsupportedName(code)}), which cannot be read as numbers. ` +
        `Supported: ${SUPPORTED_LIST}; in Python, save e.g. array.astype('uint8').`,
    );
  }
  // '|' means "byte order does not matter" (one-byte types); numpy writes '<' or '>' otherwise.
  // '=' (native) never appears in files numpy writes; we read it as little-endian, like every numpy host today.
  const littleEndian = order !== '>';
  const itemSize = Number(code.slice(1));
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    descr: descr!,
    dtype: info.dtype,
    itemSize,
    littleEndian,
    fortranOrder: fortran === 'True',
    shape,
    size,
    dataOffset,
    fileBytes: dataOffset + size * itemSize,
    version: [major, minor],
  };
}

/** Checks that a file of `actualBytes` bytes holds exactly the data its header announces. */
function checkLength(header: NpyHeader, actualBytes: number, file: string): void {
  const dataBytes = actualBytes - header.dataOffset;
  const expected = header.size * header.itemSize;
  if (dataBytes < expected) {
    throw new NpyFormatError(
      file,
      `is truncated: its header announces shape ${describeShape(header.shape)} of '${header.descr}', ` +
        `${expected} bytes of data, but only ${dataBytes} follow the header (an interrupted download or copy?).`,
    );
  }
  if (dataBytes > expected) {
    throw new NpyFormatError(
      file,
      `has ${dataBytes - expected} bytes more than its header announces (shape ${describeShape(header.shape)} of ` +
        `'${header.descr}', ${expected} bytes of data): it is corrupt or not a plain .npy file.`,
    );
  }
}

/**
 * Reads only the header of a .npy file and checks the file's size against it.
 * Cheap: it reads the first bytes, not the data. Used to tell valid files from partial ones.
 */
export async function readNpyHeader(file: string): Promise<NpyHeader> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const first = Buffer.alloc(Math.min(size, 4096));
    await handle.read(first, 0, first.length, 0);
    let header: NpyHeader;
    try {
      header = parseNpyHeader(first, file);
    } catch (e) {
      // A header longer than our first read: read exactly as much as it says.
      if (!(e instanceof NpyFormatError) || !e.reason.startsWith('is truncated inside') || size <= first.length) throw e;
      const all = Buffer.alloc(Math.min(size, 16 * 1024 * 1024));
      await handle.read(all, 0, all.length, 0);
      header = parseNpyHeader(all, file);
    }
    checkLength(header, size, file);
    return header;
  } finally {
    await handle.close();
  }
}

function swapBytes(bytes: Uint8Array, itemSize: number): void {
  for (let i = 0; i < bytes.length; i += itemSize) {
    for (let a = i, b = i + itemSize - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

function float16ToFloat32Array(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = npyjs.float16ToFloat32(bits[i]);
  return out;
}

/** Reorders column-major (Fortran) data to row-major (C) order. */
function fortranToC<T extends NpyData>(data: T, shape: number[]): T {
  if (shape.length < 2) return data;
  const out = new (data.constructor as any)(data.length) as T;
  const rank = shape.length;
  // Stride of each axis in the Fortran layout.
  const strides: number[] = [];
  let stride = 1;
  for (let axis = 0; axis < rank; axis++) {
    strides.push(stride);
    stride *= shape[axis];
  }
  const index = new Array<number>(rank).fill(0);
  let source = 0;
  for (let i = 0; i < data.length; i++) {
    (out as any)[i] = (data as any)[source];
    // Advance the C-order index (last axis fastest) and the matching Fortran offset.
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      source += strides[axis];
      if (index[axis] < shape[axis]) break;
      source -= strides[axis] * shape[axis];
      index[axis] = 0;
    }
  }
  return out;
}

/** Decodes the bytes of a whole .npy file. `file` is only used in error messages. */
export function decodeNpy(bytes: Uint8Array, file = '<npy buffer>'): NpyArray {
  const header = parseNpyHeader(bytes, file);
  checkLength(header, bytes.length, file);
  const { dataOffset, itemSize, size, dtype } = header;
  const info = SUPPORTED[DTYPE_CODES[dtype]];
  let data: NpyData;

  const aligned = (bytes.byteOffset + dataOffset) % itemSize === 0;
  if (header.littleEndian === HOST_LITTLE_ENDIAN && header.littleEndian) {
    // npyjs views the data from `dataOffset` to the end of the buffer, which checkLength made exact;
    // it needs the data aligned to the element size (numpy pads headers to 64 bytes).
    const buffer =
      aligned && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? (bytes.buffer as ArrayBuffer)
        : copyToAlignedBuffer(bytes, dataOffset, itemSize);
    const parsed = npyjs.parse(buffer);
    data = parsed.data as NpyData;
    if (data.length !== size) {
      throw new NpyFormatError(file, `could not be decoded: npyjs read ${data.length} elements, the header announces ${size}.`);
    }
  } else {
    // Foreign byte order: copy the data out and swap each element's bytes.
    const copy = new Uint8Array(bytes.subarray(dataOffset, dataOffset + size * itemSize));
    if (header.littleEndian !== HOST_LITTLE_ENDIAN && itemSize > 1) swapBytes(copy, itemSize);
    data =
      dtype === 'float16'
        ? float16ToFloat32Array(new Uint16Array(copy.buffer, 0, size))
        : new info.ctor(copy.buffer, 0, size);
  }
  const shape = [...header.shape];
  if (header.fortranOrder) data = fortranToC(data, shape);
  return { dtype, shape, data, descr: header.descr };
}

/** Copies the file bytes into a fresh buffer laid out so that the data starts aligned. */
function copyToAlignedBuffer(bytes: Uint8Array, dataOffset: number, itemSize: number): ArrayBuffer {
  if (dataOffset % itemSize === 0) {
    const copy = new Uint8Array(bytes.length); // (Buffer#slice would not copy)
    copy.set(bytes);
    return copy.buffer;
  }
  // Rare: a header whose length is not a multiple of the item size (not written by numpy).
  // Rebuild a minimal version-1 file with a padded header around the same data.
  const header = parseNpyHeader(bytes, '<npy buffer>');
  const rebuilt = encodeNpyHeader(header.descr, header.shape, false);
  const out = new Uint8Array(rebuilt.length + (bytes.length - dataOffset));
  out.set(rebuilt, 0);
  out.set(bytes.subarray(dataOffset), rebuilt.length);
  return out.buffer;
}

/**
 * Reads and decodes a .npy file. Throws {@link NpyFormatError}, {@link NpyTooLargeError} for a valid
 * file over {@link NPY_READ_LIMIT}, or a file-system error.
 */
export async function readNpy(file: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_FS_FILE_TOO_LARGE') throw e;
    // Cheap (the header only), and a damaged file is reported as damaged rather than as large.
    const header = await readNpyHeader(file);
    throw new NpyTooLargeError(file, header, header.fileBytes);
  }
  return decodeNpy(bytes, file);
}

function dtypeOfData(data: NpyData): NpyDtype {
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Uint16Array) return 'uint16';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint32Array) return 'uint32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof BigUint64Array) return 'uint64';
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  throw new ValueError(`encodeNpy(data): data must be a typed array. Received ${Object.prototype.toString.call(data)}.`);
}

/** The header bytes numpy itself writes (format 1.0, padded with spaces so the data starts on a 64-byte boundary). */
function encodeNpyHeader(descr: string, shape: number[], fortranOrder: boolean): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${describeShape(shape)}, }`;
  const unpadded = 10 + dict.length + 1; // magic, version, length, dict, newline
  const padding = (64 - (unpadded % 64)) % 64;
  const text = dict + ' '.repeat(padding) + '\n';
  if (text.length > 0xffff) throw new ValueError(`encodeNpy(shape): a shape of ${shape.length} axes does not fit a version-1 header.`);
  const header = Buffer.alloc(10 + text.length);
  header.set(MAGIC, 0);
  header[6] = 1;
  header[7] = 0;
  header.writeUInt16LE(text.length, 8);
  header.write(text, 10, 'latin1');
  return header;
}

/** Options of {@link encodeNpy} and {@link writeNpy}. */
export interface EncodeNpyOptions {
  /** Write the data big-endian ('>' type strings). Defaults to false (little-endian, as numpy on every common machine). */
  bigEndian?: boolean;
}

/** Encodes a C-ordered typed array as the bytes of a .npy file, as `numpy.save` writes it. */
export function encodeNpy(data: NpyData, shape: number[], options: EncodeNpyOptions = {}): Buffer {
  return Buffer.concat(encodeNpyParts(data, shape, options));
}

/** The header and the data of a .npy file, as two pieces (writing them needs no copy). */
function encodeNpyParts(data: NpyData, shape: number[], options: EncodeNpyOptions): Uint8Array[] {
  const dtype = dtypeOfData(data);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ValueError(`encodeNpy(shape): shape must be an array of non-negative integers. Received ${JSON.stringify(shape)}.`);
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    throw new ValueError(`encodeNpy(shape): shape ${describeShape(shape)} holds ${size} elements, but data has ${data.length}.`);
  }
  const code = DTYPE_CODES[dtype];
  const itemSize = data.BYTES_PER_ELEMENT;
  const bigEndian = options.bigEndian ?? false;
  const order = itemSize === 1 ? '|' : bigEndian ? '>' : '<';
  let body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (itemSize > 1 && bigEndian === HOST_LITTLE_ENDIAN) {
    body = new Uint8Array(body);
    swapBytes(body, itemSize);
  }
  return [encodeNpyHeader(order + code, shape, false), body];
}

/** Writes a .npy file atomically (a temporary file renamed into place). */
export async function writeNpy(file: string, data: NpyData, shape: number[], options: EncodeNpyOptions = {}): Promise<void> {
  await writeFileAtomic(file, encodeNpyParts(data, shape, options));
}
