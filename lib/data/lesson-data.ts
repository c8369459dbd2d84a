/**
 * Choosing the lesson's data: the real Dollar Street 10 files when they are
 * there, otherwise the synthetic stand-in, announced loudly so that nobody
 * mistakes its numbers for the lesson's.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { display, escapeXml, JUPYTER_DISPLAY } from '../notebook/display';
import { DataFileError, ValueError } from '../core/errors';
import {
  codeString,
  DEFAULT_DOLLAR_STREET_FOLDER,
  DOLLAR_STREET_FILES,
  DOLLAR_STREET_RECORD_URL,
  DollarStreetData,
  loadDollarStreet,
  whereToGetDollarStreet,
} from './dollarstreet';
import {
  isSyntheticUpToDate,
  makeSyntheticDollarStreet,
  readSyntheticManifest,
  SyntheticManifest,
  SyntheticOptions,
  syntheticOptions,
} from './synthetic';

/** Where the lesson keeps the synthetic stand-in (apart from the real data). */
export const DEFAULT_SYNTHETIC_FOLDER = 'data/dataset_dollarstreet_synthetic/';

/**
 * What a folder holds: 'real' (all four files, no synthetic manifest),
 * 'synthetic' (all four files made by makeSyntheticDollarStreet),
 * 'partial' (some files missing), 'missing' (none).
 */
export interface DollarStreetSource {
  kind: 'real' | 'synthetic' | 'partial' | 'missing';
  /** Absolute path of the folder. */
  folder: string;
  /** File names present. */
  present: string[];
  /** File names missing. */
  missing: string[];
  /** The synthetic manifest, when the folder has one. */
  manifest?: SyntheticManifest;
}

/** Looks at `folder` without reading the data: which files are there, and are they synthetic? */
export async function dollarStreetSource(folder: string = DEFAULT_DOLLAR_STREET_FOLDER): Promise<DollarStreetSource> {
  const target = path.resolve(folder);
  const present: string[] = [];
  const missing: string[] = [];
  for (const name of Object.values(DOLLAR_STREET_FILES)) {
    const isFile = await fs.stat(path.join(target, name)).then(
      (s) => s.isFile(),
      () => false,
    );
    (isFile ? present : missing).push(name);
  }
  const manifest = await readSyntheticManifest(target);
  const kind = missing.length === 0 ? (manifest ? 'synthetic' : 'real') : present.length === 0 ? 'missing' : 'partial';
  return { kind, folder: target, present, missing, ...(manifest ? { manifest } : {}) };
}

/** Options of {@link resolveLessonData} and {@link loadLessonData}: the real and synthetic folders, and the stand-in's options. */
export interface LessonDataOptions {
  /** Folder of the real data. Defaults to 'data/dataset_dollarstreet/'. */
  folder?: string;
  /** Folder for the synthetic stand-in. Defaults to 'data/dataset_dollarstreet_synthetic/'. */
  syntheticFolder?: string;
  /** Options of the stand-in. Defaults to the real data's sizes (878 + 293 images, 64x64) and seed 2. */
  synthetic?: SyntheticOptions;
  /** Why the real data is not used, for the banner. Defaults to "the Dollar Street 10 files are not in <folder>." */
  why?: string;
}

/** Which data the lesson uses. */
export interface LessonDataSource {
  source: 'real' | 'synthetic';
  /** Absolute path of the folder the data comes from. */
  folder: string;
  /** One line for reports, e.g. "Dollar Street 10 (real) from /home/me/data/dataset_dollarstreet". */
  description: string;
}

export function syntheticBanner(realFolder: string, syntheticFolder: string, manifest: SyntheticManifest | undefined, why: string) {
  const sizes = manifest
    ? `${manifest.train} training and ${manifest.test} validation images of ${manifest.size}x${manifest.size}, seed ${manifest.seed}`
    : 'generated images';
  const rule = '*'.repeat(78);
  const lines = [
    `USING SYNTHETIC STAND-IN DATA: ${why}`,
    `The data in ${syntheticFolder} are drawn shapes (${sizes}), not photographs:`,
    `accuracies will NOT match the lesson's (about 64% validation accuracy with DenseNet121).`,
    `To use the real data: \`await fetchDollarStreet(${codeString(path.relative(process.cwd(), realFolder) || '.')})\` (needs internet),`,
    `or download the four files from ${DOLLAR_STREET_RECORD_URL} into ${realFolder}.`,
  ];
  const text = [rule, ...lines, rule].join('\n');
  const html =
    `<div style="border:3px solid #c00;background:#fee;color:#600;padding:0.6em 1em;font-family:sans-serif">` +
    `<b style="font-size:1.2em">USING SYNTHETIC STAND-IN DATA</b><br>` +
    [why, ...lines.slice(1)].map(escapeXml).join('<br>') +
    `</div>`;
  return { [JUPYTER_DISPLAY]: () => ({ 'text/plain': text, 'text/html': html }) };
}

/**
 * Decides where the lesson's data comes from, making the synthetic stand-in
 * if needed, and says so: a loud banner when it is synthetic.
 * Incomplete real data is an error (fix it rather than silently train on something else).
 */
export async function resolveLessonData(options: LessonDataOptions = {}): Promise<LessonDataSource> {
  const realFolder = path.resolve(options.folder ?? DEFAULT_DOLLAR_STREET_FOLDER);
  const real = await dollarStreetSource(realFolder);
  if (real.kind === 'real') {
    const description = `Dollar Street 10 (real) from ${realFolder}`;
    console.log(`Using the real ${description.replace(' (real)', '')}.`);
    return { source: 'real', folder: realFolder, description };
  }
  if (real.kind === 'synthetic') {
    display(syntheticBanner(realFolder, realFolder, real.manifest, `${realFolder} holds the synthetic stand-in, not the real files.`));
    return { source: 'synthetic', folder: realFolder, description: `synthetic stand-in for Dollar Street 10 from ${realFolder}` };
  }
  if (real.kind === 'partial') {
    const first = path.join(realFolder, real.missing[0]);
    throw new DataFileError(
      first,
      `is missing, while ${real.present.join(', ')} ${real.present.length === 1 ? 'is' : 'are'} present: the real data is incomplete ` +
        `(an interrupted download?). ${whereToGetDollarStreet(options.folder ?? DEFAULT_DOLLAR_STREET_FOLDER)}`,
    );
  }

  const syntheticFolder = path.resolve(options.syntheticFolder ?? DEFAULT_SYNTHETIC_FOLDER);
  const wanted = syntheticOptions(options.synthetic);
  if (!(await isSyntheticUpToDate(syntheticFolder, wanted))) {
    const there = await dollarStreetSource(syntheticFolder);
    if (there.kind === 'real' || (there.kind === 'partial' && !there.manifest)) {
      // Never overwrite files that may be the real data.
      throw new ValueError(
        `resolveLessonData(options.syntheticFolder): ${syntheticFolder} holds .npy files that were not made by ` +
          `makeSyntheticDollarStreet (${there.present.join(', ')}); choose an empty folder for the synthetic stand-in.`,
      );
    }
    const made = await makeSyntheticDollarStreet(syntheticFolder, wanted);
    console.log(`Made the synthetic stand-in in ${made.folder} (${made.seconds.toFixed(1)} s).`);
  }
  const manifest = await readSyntheticManifest(syntheticFolder);
  display(syntheticBanner(realFolder, syntheticFolder, manifest, options.why ?? `the Dollar Street 10 files are not in ${realFolder}.`));
  return { source: 'synthetic', folder: syntheticFolder, description: `synthetic stand-in for Dollar Street 10 from ${syntheticFolder}` };
}

/**
 * The lesson's first cell in one call: the real Dollar Street 10 when present,
 * otherwise the synthetic stand-in (made if needed, announced loudly).
 */
export async function loadLessonData(options: LessonDataOptions = {}): Promise<DollarStreetData & LessonDataSource> {
  const source = await resolveLessonData(options);
  const data = await loadDollarStreet(source.folder);
  return { ...data, ...source };
}
