/**
 * The .npy reader and writer against numpy: files numpy wrote (every integer and
 * float dtype, both byte orders, Fortran order, format versions 1-3) read back
 * element by element as numpy reads them, and files we wrote read by numpy.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataFileError } from '../lib/core/errors';
import {
  decodeNpy,
  encodeNpy,
  NPY_READ_LIMIT,
  NpyData,
  NpyFormatError,
  NpyTooLargeError,
  readNpy,
  readNpyHeader,
  writeNpy,
} from '../lib/data/npy';
import { sparseNpy } from './support/sparse-npy';

const PYTHON = process.env.TSLAB_DL_PYTHON ?? '/usr/bin/python3';
const HERE = __dirname;

function numpyMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `${PYTHON} cannot import numpy (apt-get install python3-numpy)`;
}

function python(args: string[], input?: string): string {
  const run = spawnSync(PYTHON, args, { encoding: 'utf8', input });
  if (run.status !== 0) throw new Error(`${PYTHON} ${args.join(' ')} failed:\n${run.stderr}`);
  return run.stdout;
}

/** A numpy value string as the element our reader should hold. */
function expectedElement(text: string, data: NpyData): number | bigint {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return BigInt(text);
  if (text === 'nan') return NaN;
  if (text === 'inf') return Infinity;
  if (text === '-inf') return -Infinity;
  return Number(text);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-npy-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('reading files numpy wrote', () => {
  const missing = numpyMissing();
  let fixtures: { [name: string]: { descr: string; shape?: number[]; values?: string[]; error?: boolean } } = {};
  before(() => {
    if (missing) return;
    python([path.join(HERE, 'python', 'npy_fixtures.py'), tmp]);
    fixtures = JSON.parse(fs.readFileSync(path.join(tmp, 'fixtures.json'), 'utf8'));
  });

  test('every integer and float dtype, both byte orders, reads back element by element', async (t) => {
    if (missing) return t.skip(missing);
    const readable = Object.entries(fixtures).filter(([, f]) => !f.error);
    assert.ok(readable.length >= 30, `expected the full fixture set, got ${readable.length}`);
    for (const [name, fixture] of readable) {
      const array = await readNpy(path.join(tmp, `${name}.npy`));
      assert.deepEqual(array.shape, fixture.shape, `${name}: shape`);
      assert.equal(array.descr, fixture.descr, `${name}: descr`);
      assert.equal(array.data.length, fixture.values!.length, `${name}: element count`);
      for (let i = 0; i < fixture.values!.length; i++) {
        const expected = expectedElement(fixture.values![i], array.data);
        const actual = array.data[i];
        if (typeof expected === 'number' && Number.isNaN(expected))
          assert.ok(Number.isNaN(actual as number), `${name}[${i}] should be NaN`);
        else assert.ok(Object.is(actual, expected) || actual === expected, `${name}[${i}]: ${actual} !== ${fixture.values![i]}`);
      }
    }
  });

  test('dtype names follow numpy: <i8 and >i8 are int64, |u1 is uint8, <f2 is float16 widened to float32', async (t) => {
    if (missing) return t.skip(missing);
    const expectations: [string, string, Function][] = [
      ['int_le_i8', 'int64', BigInt64Array],
      ['int_be_i8', 'int64', BigInt64Array],
      ['int_u1', 'uint8', Uint8Array],
      ['int_be_i4', 'int32', Int32Array],
      ['float_be_f8', 'float64', Float64Array],
      ['float_be_f2', 'float16', Float32Array],
      ['float_le_f2', 'float16', Float32Array],
    ];
    for (const [name, dtype, ctor] of expectations) {
      const array = await readNpy(path.join(tmp, `${name}.npy`));
      assert.equal(array.dtype, dtype, name);
      assert.ok(array.data instanceof ctor, `${name}: ${array.data.constructor.name}`);
    }
  });

  test('types that cannot be numbers are refused by name, naming the file', async (t) => {
    if (missing) return t.skip(missing);
    const names: { [fixture: string]: RegExp } = {
      reject_bool: /'\|b1' \(bool\)/,
      reject_complex64: /'<c8' \(complex\)/,
      reject_unicode: /'<U7' \(unicode strings\)/,
      reject_datetime: /'<M8\[D\]' \(datetime64\)/,
      reject_object: /'\|O' \(Python objects/,
      reject_structured: /structured array/,
    };
    for (const [name, pattern] of Object.entries(names)) {
      const file = path.join(tmp, `${name}.npy`);
      await assert.rejects(readNpy(file), (e: unknown) => {
        assert.ok(e instanceof NpyFormatError && e instanceof DataFileError, `${name}: ${e}`);
        assert.ok(e.message.startsWith(file + ':'), `${name}: message should start with the file: ${e.message}`);
        assert.match(e.message, pattern, name);
        return true;
      });
    }
  });
});

describe('files we write, as numpy reads them', () => {
  const missing = numpyMissing();
  const cases: [string, NpyData, number[], boolean][] = [
    ['u1', new Uint8Array([0, 1, 127, 128, 255, 7]), [2, 3], false],
    ['i4-be', new Int32Array([-2147483648, -1, 0, 2147483647]), [4], true],
    ['i8', new BigInt64Array([2n ** 62n + 1n, -(2n ** 63n), 0n, 5n]), [2, 2], false],
    ['i8-be', new BigInt64Array([2n ** 62n + 1n, -3n]), [2, 1], true],
    ['f4', new Float32Array([1.5, -0, 3.4028234663852886e38, 1e-45]), [1, 1, 4], false],
    ['f8-be', new Float64Array([Math.PI, -1e300]), [2], true],
    ['empty', new Float32Array(0), [0, 64, 64, 3], false],
  ];

  test('numpy reads dtype, shape and every value we wrote', async (t) => {
    if (missing) return t.skip(missing);
    const expected: { [file: string]: { descr: string; shape: number[]; values: string[] } } = {};
    for (const [name, data, shape, bigEndian] of cases) {
      const file = path.join(tmp, `ours-${name}.npy`);
      await writeNpy(file, data, shape, { bigEndian });
      const order = data.BYTES_PER_ELEMENT === 1 ? '|' : bigEndian ? '>' : '<';
      const code = { Uint8Array: 'u1', Int32Array: 'i4', BigInt64Array: 'i8', Float32Array: 'f4', Float64Array: 'f8' }[
        data.constructor.name
      ]!;
      expected[file] = { descr: order + code, shape, values: Array.from(data as ArrayLike<number | bigint>, (v) => String(v)) };
    }
    const script = `
import json, sys, numpy as np
out = {}
for file in json.load(sys.stdin):
    a = np.load(file, allow_pickle=False)
    values = [str(int(x)) if a.dtype.kind in 'iu' else repr(float(x)) for x in a.reshape(-1)]
    out[file] = {'descr': a.dtype.str, 'shape': list(a.shape), 'values': values}
print(json.dumps(out))`;
    const got = JSON.parse(python(['-c', script], JSON.stringify(Object.keys(expected))));
    for (const [file, want] of Object.entries(expected)) {
      assert.equal(got[file].descr, want.descr, file);
      assert.deepEqual(got[file].shape, want.shape, file);
      const values = got[file].values.map((v: string, i: number) => {
        // numpy prints floats with repr(): compare as numbers (and keep -0 distinct).
        const w = want.values[i];
        return /[.e]|inf|nan/.test(v) ? Object.is(Number(v), Number(w)) || Number(v) === Number(w) : v === w;
      });
      assert.ok(values.every(Boolean), `${file}: numpy read ${got[file].values}, we wrote ${want.values}`);
    }
  });

  test('the header is laid out as numpy writes it: version 1.0, data 64-byte aligned, newline-terminated', () => {
    const bytes = encodeNpy(new Uint8Array(6), [2, 3]);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLength = bytes.readUInt16LE(8);
    assert.equal((10 + headerLength) % 64, 0);
    const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
    assert.equal(header.trimEnd(), "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }");
    assert.ok(header.endsWith('\n'));
    assert.equal(bytes.length, 10 + headerLength + 6);
  });

  test('our own reader reads back what we wrote, in both byte orders', () => {
    for (const [name, data, shape, bigEndian] of cases) {
      const back = decodeNpy(encodeNpy(data, shape, { bigEndian }), name);
      assert.deepEqual(back.shape, shape, name);
      assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(data as ArrayLike<unknown>), name);
    }
  });

  test('encodeNpy refuses a shape that does not match the data', () => {
    assert.throws(() => encodeNpy(new Float32Array(5), [2, 3]), /shape \(2, 3\) holds 6 elements, but data has 5/);
  });
});

describe('damaged files', () => {
  const good = encodeNpy(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]);

  test('a truncated file says how many bytes are missing', async () => {
    const file = path.join(tmp, 'truncated.npy');
    fs.writeFileSync(file, good.subarray(0, good.length - 5));
    for (const read of [readNpy, readNpyHeader]) {
      await assert.rejects(read(file), (e: Error) => {
        assert.ok(e instanceof NpyFormatError);
        assert.match(e.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: is truncated`));
        assert.match(e.message, /announces shape \(2, 3\) of '<i4', 24 bytes of data, but only 19 follow the header/);
        return true;
      });
    }
  });

  test('extra bytes after the data are refused', async () => {
    const file = path.join(tmp, 'extra.npy');
    fs.writeFileSync(file, Buffer.concat([good, Buffer.from([0, 0, 0])]));
    await assert.rejects(readNpy(file), /has 3 bytes more than its header announces/);
  });

  test('a file that is not .npy says what it starts with', async () => {
    const file = path.join(tmp, 'page.npy');
    fs.writeFileSync(file, '<!DOCTYPE html><html>Not found</html>');
    await assert.rejects(readNpy(file), /page\.npy: is not a NumPy \.npy file .*it starts with "<!DOCTYPE html><"/);
    const empty = path.join(tmp, 'empty.npy');
    fs.writeFileSync(empty, '');
    await assert.rejects(readNpy(empty), /empty\.npy: is empty, not a NumPy \.npy file/);
  });

  test('a header cut short is reported as truncated, not as a crash', async () => {
    const file = path.join(tmp, 'short-header.npy');
    fs.writeFileSync(file, good.subarray(0, 30));
    await assert.rejects(readNpy(file), /short-header\.npy: is truncated inside its \.npy header/);
  });

  test('a header that does not parse is quoted', async () => {
    const bytes = Buffer.from(good);
    bytes.write("{'DESCR'", 10, 'latin1');
    const file = path.join(tmp, 'malformed.npy');
    fs.writeFileSync(file, bytes);
    await assert.rejects(readNpy(file), /malformed\.npy: has a malformed \.npy header/);
  });

  test('a valid file over 2 GiB is reported as valid but too large: its size, the limit, and how to split it', async () => {
    // Sparse: 2.1 GiB long, a few bytes on disk.
    const file = sparseNpy(path.join(tmp, 'huge_images.npy'), '|u1', [180000, 64, 64, 3]);
    const header = await readNpyHeader(file); // the file is valid
    assert.ok(header.fileBytes > NPY_READ_LIMIT);
    await assert.rejects(readNpy(file), (e: unknown) => {
      assert.ok(e instanceof NpyTooLargeError, `expected NpyTooLargeError, got ${e}`);
      assert.ok(e instanceof DataFileError);
      assert.equal(e.file, file);
      assert.equal(e.bytes, 2_211_840_128);
      assert.equal(
        e.message,
        `${file}: is a valid .npy file (shape (180000, 64, 64, 3) of '|u1'), but too large to read into memory at once: it is 2.1 GiB ` +
          `(2211840128 bytes), and Node.js reads at most 2 GiB (2147483647 bytes) into one buffer (a tensor holds at most 4 GiB on the wasm backend). ` +
          `Split it into files of at most 174762 rows (of 180000), e.g. in Python: \`a = np.load(${JSON.stringify(file)}, mmap_mode='r'); ` +
          `np.save('part1.npy', a[:174762]); np.save('part2.npy', a[174762:])\`, and load the parts one by one.`,
      );
      assert.doesNotMatch(e.message, /cannot be read|download/i);
      return true;
    });
  });

  test('a damaged file over 2 GiB is reported as damaged, not as large', async () => {
    const file = sparseNpy(path.join(tmp, 'huge_truncated.npy'), '<f4', [180000, 64, 64, 3], -1000);
    await assert.rejects(readNpy(file), (e: unknown) => e instanceof NpyFormatError && /is truncated/.test(e.message));
  });

  test('an unaligned header (not written by numpy) still decodes', () => {
    // A version-1 file whose header length puts the int32 data at an odd offset.
    const dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,),  }\n";
    const header = Buffer.alloc(10 + dict.length);
    header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    header.writeUInt16LE(dict.length, 8);
    header.write(dict, 10, 'latin1');
    assert.notEqual(header.length % 4, 0);
    const data = Buffer.alloc(12);
    [7, -8, 9].forEach((v, i) => data.writeInt32LE(v, i * 4));
    const back = decodeNpy(Buffer.concat([header, data]));
    assert.deepEqual(Array.from(back.data as Int32Array), [7, -8, 9]);
  });
});
