/**
 * A synthetic stand-in for Dollar Street 10: the same four .npy files, the
 * same layout (uint8 images [n, size, size, 3], int64 labels 0..9), made of
 * drawn objects instead of photographs, so the lesson runs where the real
 * data cannot be downloaded.
 *
 * Each class is a shape with its own colours and texture (a checked dishrag,
 * a round plate, a diamond street sign on a pole, ...), drawn at a random
 * position and scale, with random colour jitter and lighting, on a random
 * background gradient, with an occasional distracting blob and pixel noise.
 * Everything comes from a seeded generator (not Math.random) using only
 * arithmetic that is exact in every JavaScript engine, so a seed gives the
 * same bytes everywhere.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { ValueError } from '../core/errors';
import { writeFileAtomic } from '../core/atomic-write';
import { DOLLAR_STREET_CLASSES, DOLLAR_STREET_FILES } from './dollarstreet';
import { writeNpy } from './npy';

/** The file that marks a folder as synthetic, with the options that made it. */
export const SYNTHETIC_MANIFEST = 'synthetic.json';
const GENERATOR = 'tslab-dl makeSyntheticDollarStreet';
/** Bumped whenever the drawing changes, so old folders are regenerated. */
const GENERATOR_VERSION = 1;

/** Options of {@link makeSyntheticDollarStreet} and {@link generateSyntheticDollarStreet}: image counts, size and seed. */
export interface SyntheticOptions {
  /** Number of training images. Defaults to 878 (as the real data). */
  train?: number;
  /** Number of validation ("test") images. Defaults to 293 (as the real data). */
  test?: number;
  /** Image height and width in pixels. Defaults to 64 (as the real data). */
  size?: number;
  /** Seed of the generator. Defaults to 2 (the lesson's seed). */
  seed?: number;
}

/** One split of the generated data. */
export interface SyntheticSplit {
  /** uint8 pixels, [count, size, size, 3] in C order. */
  images: Uint8Array;
  /** Class indices 0..9, int64 as the real files hold them. */
  labels: BigInt64Array;
  count: number;
}

/** What a synthetic folder's manifest records. */
export interface SyntheticManifest {
  generator: string;
  version: number;
  train: number;
  test: number;
  size: number;
  seed: number;
  classes: string[];
  /** Byte size of each of the four files, to notice files replaced afterwards. */
  fileBytes: { [file: string]: number };
}

/** What {@link makeSyntheticDollarStreet} wrote: the folder, its files, and the options used. */
export interface SyntheticResult {
  /** Absolute path of the folder written. */
  folder: string;
  /** Absolute paths of the four .npy files. */
  files: string[];
  /** Number of training images. */
  train: number;
  /** Number of validation ("test") images. */
  test: number;
  /** Image height and width in pixels. */
  size: number;
  /** Seed of the generator. */
  seed: number;
  /** Generation and writing time. */
  seconds: number;
}

type RGB = [number, number, number];
/** 0: not on the object; 1: primary colour; 2: secondary colour. */
type Paint = 0 | 1 | 2;

interface ClassStyle {
  primary: RGB;
  secondary: RGB;
  /**
   * Which colour covers the point (u, v), in object units (about -1..1 around
   * the centre); (px, py) is the same point in pixels, for textures; `period`
   * is the texture period in pixels.
   */
  paint(u: number, v: number, px: number, py: number, period: number): Paint;
}

const abs = Math.abs;
const floor = Math.floor;
/** Keeps texture coordinates positive, so that floor() and % tile evenly across 0. */
const TEXTURE_OFFSET = 1000;

/** The ten classes, in DOLLAR_STREET_CLASSES order: a loose drawing of each object. */
const STYLES: ClassStyle[] = [
  {
    // day bed: a long low frame with a cream mattress, a headboard and two legs
    primary: [140, 85, 45],
    secondary: [230, 210, 165],
    paint(u, v) {
      if (u >= -1 && u <= 1 && v >= 0 && v <= 0.4) return v <= 0.14 ? 2 : 1;
      if (u >= -1 && u <= -0.78 && v >= -0.55 && v < 0) return 1;
      if (v > 0.4 && v <= 0.6 && (abs(u + 0.88) < 0.08 || abs(u - 0.88) < 0.08)) return 1;
      return 0;
    },
  },
  {
    // dishrag: a square of blue and white checks
    primary: [70, 130, 225],
    secondary: [245, 245, 240],
    paint(u, v, px, py, period) {
      if (abs(u) > 0.85 || abs(v) > 0.85) return 0;
      return (floor((px + TEXTURE_OFFSET) / period) + floor((py + TEXTURE_OFFSET) / period)) % 2 === 0 ? 1 : 2;
    },
  },
  {
    // plate: a white disc with a grey-blue rim
    primary: [242, 240, 232],
    secondary: [150, 170, 205],
    paint(u, v) {
      const r2 = u * u + v * v;
      if (r2 <= 0.6 * 0.6) return 1;
      return r2 <= 0.92 * 0.92 ? 2 : 0;
    },
  },
  {
    // running shoe: a red wedge, high heel on the left, with a white sole and stripe
    primary: [215, 35, 45],
    secondary: [245, 245, 245],
    paint(u, v) {
      if (u < -1 || u > 1) return 0;
      if (v >= 0.25 && v <= 0.45) return 2;
      const top = u < -0.2 ? -0.55 : -0.55 + (0.6 * (u + 0.2)) / 1.2;
      if (v < top || v >= 0.25) return 0;
      return abs(v - (0.05 - 0.25 * u)) < 0.07 ? 2 : 1;
    },
  },
  {
    // soap dispenser: a tall green bottle with a dark pump and spout
    primary: [45, 165, 80],
    secondary: [35, 35, 40],
    paint(u, v) {
      if (abs(u) <= 0.4 && v >= -0.2 && v <= 0.9) return 1;
      if (abs(u) <= 0.1 && v >= -0.5 && v < -0.2) return 2;
      if (v >= -0.64 && v < -0.5 && u >= -0.12 && u <= 0.45) return 2;
      return 0;
    },
  },
  {
    // street sign: a yellow diamond with a black border on a pole
    primary: [240, 205, 20],
    secondary: [30, 30, 30],
    paint(u, v) {
      const d = abs(u) + abs(v + 0.25);
      if (d <= 0.5) return 1;
      if (d <= 0.65) return 2;
      return abs(u) <= 0.07 && v > 0.3 && v <= 1 ? 2 : 0;
    },
  },
  {
    // table lamp: an orange shade widening downwards, a stem and a base
    primary: [250, 145, 30],
    secondary: [85, 55, 30],
    paint(u, v) {
      if (v >= -0.8 && v <= -0.05 && abs(u) <= 0.3 + (0.45 * (v + 0.8)) / 0.75) return 1;
      if (abs(u) <= 0.06 && v > -0.05 && v <= 0.75) return 2;
      return abs(u) <= 0.45 && v > 0.75 && v <= 0.92 ? 2 : 0;
    },
  },
  {
    // tile roof: a gable of terracotta tiles in staggered rows
    primary: [185, 75, 40],
    secondary: [95, 30, 20],
    paint(u, v, px, py, period) {
      if (v < -0.7 || v > 0.6 || abs(u) > 0.25 + (0.75 * (v + 0.7)) / 1.3) return 0;
      const y = py + TEXTURE_OFFSET;
      const row = floor(y / period);
      if (y - row * period < 1) return 2;
      const x = px + TEXTURE_OFFSET + (row % 2) * (period / 2);
      return x - floor(x / period) * period < 1 ? 2 : 1;
    },
  },
  {
    // toilet seat: an upright oval ring with a grey hinge
    primary: [200, 160, 215],
    secondary: [90, 90, 100],
    paint(u, v) {
      const e = (u / 0.6) * (u / 0.6) + (v / 0.85) * (v / 0.85);
      if (e <= 1 && e >= 0.42) return 1;
      return abs(u) <= 0.35 && v >= -1 && v < -0.86 ? 2 : 0;
    },
  },
  {
    // washing machine: a silver box with a dark round door and a control panel
    primary: [190, 195, 205],
    secondary: [30, 40, 85],
    paint(u, v) {
      if (abs(u) > 0.8 || abs(v) > 0.9) return 0;
      if (u * u + (v - 0.12) * (v - 0.12) <= 0.45 * 0.45) return 2;
      return v >= -0.85 && v <= -0.62 && u >= 0.2 && u <= 0.7 ? 2 : 1;
    },
  },
];

/** mulberry32: a small, fast 32-bit generator; returns floats in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for one split, so the validation images do not depend on the training count. */
function splitSeed(seed: number, split: number): number {
  // splitmix32-style mixing of (seed, split).
  let z = (Math.imul(seed | 0, 0x9e3779b9) + Math.imul(split, 0x85ebca6b)) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

function clampByte(x: number): number {
  return x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x);
}

/** Draws one image of class `label` into `out` at `offset`. */
function drawImage(out: Uint8Array, offset: number, size: number, label: number, random: () => number): void {
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  const style = STYLES[label];

  // Background: a random, mostly grey colour with a linear gradient.
  const level = between(45, 210);
  const background: RGB = [level + between(-30, 30), level + between(-30, 30), level + between(-30, 30)];
  const gradientX = between(-45, 45);
  const gradientY = between(-45, 45);

  // The object: position, scale, mirror, lighting and colour jitter.
  const scale = size * between(0.2, 0.34);
  const margin = scale * 0.85;
  const cx = between(margin, size - margin);
  const cy = between(margin, size - margin);
  const mirror = random() < 0.5 ? -1 : 1;
  const light = between(0.75, 1.15);
  const period = between(3, 6);
  const colours: RGB[] = [style.primary, style.secondary].map(
    (c) => c.map((channel) => (channel + between(-25, 25)) * light) as RGB,
  );

  // Sometimes a small blob of any colour elsewhere, so colour alone is not the whole story.
  const blob = random() < 0.5;
  const blobColour: RGB = [between(0, 255), between(0, 255), between(0, 255)];
  const blobSize = between(3, 8);
  const blobX = between(0, size - blobSize);
  const blobY = between(0, size - blobSize);

  const noise = between(3, 14) * 2.449489742783178; // (a + b - 1) * sqrt(6) has standard deviation 1
  for (let y = 0; y < size; y++) {
    const py = y + 0.5 - cy;
    const v = py / scale;
    for (let x = 0; x < size; x++) {
      const px = (x + 0.5 - cx) * mirror;
      const u = px / scale;
      const paint = abs(u) <= 1.05 && abs(v) <= 1.05 ? style.paint(u, v, px, py, period) : 0;
      let colour: RGB;
      if (paint !== 0) colour = colours[paint - 1];
      else if (blob && x >= blobX && x < blobX + blobSize && y >= blobY && y < blobY + blobSize) colour = blobColour;
      else colour = background;
      const shade = paint !== 0 ? 0 : gradientX * (x / size - 0.5) + gradientY * (y / size - 0.5);
      const at = offset + (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        out[at + c] = clampByte(colour[c] + shade + (random() + random() - 1) * noise);
      }
    }
  }
}

function generateSplit(count: number, size: number, seed: number): SyntheticSplit {
  const random = seededRandom(seed);
  // Balanced classes (counts differ by at most one), in shuffled order.
  const labels = new BigInt64Array(count);
  const order = Array.from({ length: count }, (_, i) => i % STYLES.length);
  for (let i = count - 1; i > 0; i--) {
    const j = floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const images = new Uint8Array(count * size * size * 3);
  for (let i = 0; i < count; i++) {
    labels[i] = BigInt(order[i]);
    drawImage(images, i * size * size * 3, size, order[i], random);
  }
  return { images, labels, count };
}

function checkCount(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ValueError(`makeSyntheticDollarStreet: \`${name}\` must be an integer >= ${min}. Received ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Fills in and checks the options. */
export function syntheticOptions(options: SyntheticOptions = {}): Required<SyntheticOptions> {
  const seed = options.seed ?? 2;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new ValueError(`makeSyntheticDollarStreet: \`seed\` must be an integer in 0..4294967295. Received ${JSON.stringify(seed)}.`);
  }
  return {
    train: checkCount('train', options.train ?? 878, 1),
    test: checkCount('test', options.test ?? 293, 1),
    size: checkCount('size', options.size ?? 64, 16),
    seed,
  };
}

/** Generates the synthetic data in memory (no files). Deterministic for given options. */
export function generateSyntheticDollarStreet(options: SyntheticOptions = {}): {
  train: SyntheticSplit;
  test: SyntheticSplit;
  size: number;
} {
  const { train, test, size, seed } = syntheticOptions(options);
  return {
    train: generateSplit(train, size, splitSeed(seed, 1)),
    test: generateSplit(test, size, splitSeed(seed, 2)),
    size,
  };
}

/** Reads a folder's synthetic manifest; undefined when the folder has none (or it is unreadable). */
export async function readSyntheticManifest(folder: string): Promise<SyntheticManifest | undefined> {
  try {
    const manifest = JSON.parse(await fs.readFile(path.join(folder, SYNTHETIC_MANIFEST), 'utf8'));
    return manifest && manifest.generator === GENERATOR ? (manifest as SyntheticManifest) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `folder` holds a complete synthetic set made with these options by
 * this version of the generator (so it need not be made again).
 */
export async function isSyntheticUpToDate(folder: string, options: SyntheticOptions = {}): Promise<boolean> {
  const wanted = syntheticOptions(options);
  const manifest = await readSyntheticManifest(folder);
  if (!manifest || manifest.version !== GENERATOR_VERSION) return false;
  if (manifest.train !== wanted.train || manifest.test !== wanted.test || manifest.size !== wanted.size || manifest.seed !== wanted.seed) {
    return false;
  }
  for (const name of Object.values(DOLLAR_STREET_FILES)) {
    const stat = await fs.stat(path.join(folder, name)).catch(() => undefined);
    if (!stat || stat.size !== manifest.fileBytes?.[name]) return false;
  }
  return true;
}

/**
 * Writes a synthetic Dollar Street 10 into `folder`: train_images.npy,
 * train_labels.npy, test_images.npy, test_labels.npy (same names, layout and
 * dtypes as the real data) and a `synthetic.json` manifest that marks it as
 * synthetic. Each file is written atomically.
 */
export async function makeSyntheticDollarStreet(folder: string, options: SyntheticOptions = {}): Promise<SyntheticResult> {
  if (typeof folder !== 'string' || folder === '') {
    throw new ValueError(`makeSyntheticDollarStreet(folder): folder must be a path. Received ${JSON.stringify(folder)}.`);
  }
  const resolved = syntheticOptions(options);
  const started = Date.now();
  const target = path.resolve(folder);
  const { train, test, size } = generateSyntheticDollarStreet(resolved);

  await fs.mkdir(target, { recursive: true });
  // Until the new manifest is written, the folder is not a complete synthetic set.
  await fs.rm(path.join(target, SYNTHETIC_MANIFEST), { force: true });
  const writes: [string, Uint8Array | BigInt64Array, number[]][] = [
    [DOLLAR_STREET_FILES.trainImages, train.images, [train.count, size, size, 3]],
    [DOLLAR_STREET_FILES.trainLabels, train.labels, [train.count]],
    [DOLLAR_STREET_FILES.valImages, test.images, [test.count, size, size, 3]],
    [DOLLAR_STREET_FILES.valLabels, test.labels, [test.count]],
  ];
  const fileBytes: { [file: string]: number } = {};
  for (const [name, data, shape] of writes) {
    const file = path.join(target, name);
    await writeNpy(file, data, shape);
    fileBytes[name] = (await fs.stat(file)).size;
  }
  const manifest: SyntheticManifest = {
    generator: GENERATOR,
    version: GENERATOR_VERSION,
    ...resolved,
    classes: [...DOLLAR_STREET_CLASSES],
    fileBytes,
  };
  await writeFileAtomic(path.join(target, SYNTHETIC_MANIFEST), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
  return {
    folder: target,
    files: writes.map(([name]) => path.join(target, name)),
    ...resolved,
    seconds: (Date.now() - started) / 1000,
  };
}
