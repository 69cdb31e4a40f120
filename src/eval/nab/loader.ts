import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readCsvColumns, toNumbers } from './csv.ts';
import {
  finalResultsFileSchema,
  pickProfiles,
  profilesFileSchema,
  thresholdsFileSchema,
  windowsFileSchema,
  type CostMatrix,
  type FinalResultsFile,
  type NabProfile,
  type ThresholdsFile,
} from './profiles.ts';
import { parseNabTimestamp } from './timestamps.ts';
import { windowsToIndices, type IndexWindow } from './windows.ts';

/** One NAB data file with its labelled windows. */
export interface NabSeries {
  /** "category/file.csv", the key of the label file. */
  name: string;
  /** Epoch ms per row (UTC). */
  timestamps: number[];
  values: number[];
  windows: IndexWindow[];
}

/** Everything of the NAB folder the evaluation reads. */
export interface NabCorpus {
  dir: string;
  /** Sorted by name, so every run walks the files in the same order. */
  series: NabSeries[];
  profiles: Record<NabProfile, CostMatrix>;
  thresholds: ThresholdsFile;
  finalResults: FinalResultsFile;
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));

/** Reads a file, gunzipping it when only the `.gz` copy exists (the results CSVs are shipped gzipped). */
export function readMaybeGzipped(path: string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8');
  if (existsSync(`${path}.gz`)) return gunzipSync(readFileSync(`${path}.gz`)).toString('utf8');
  throw new Error(`missing: ${path} (nor ${path}.gz)`);
}

/**
 * Loads the NAB corpus from `dir` (data/, labels/combined_windows.json, config/, results/).
 * Every data file must have an entry in the label file and every window must start and end on
 * rows of its file; throws naming the file otherwise.
 */
export function loadNabCorpus(dir: string): NabCorpus {
  const labels = windowsFileSchema.parse(readJson(join(dir, 'labels', 'combined_windows.json')));
  const dataDir = join(dir, 'data');
  const names = readdirSync(dataDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(join(dataDir, d.name))
        .filter((f) => f.endsWith('.csv'))
        .map((f) => `${d.name}/${f}`),
    )
    .sort();
  const series = names.map((name): NabSeries => {
    const limits = labels[name];
    if (limits === undefined) throw new Error(`labels/combined_windows.json has no entry for ${name}`);
    const cols = readCsvColumns(name, readFileSync(join(dataDir, name), 'utf8'), ['timestamp', 'value']);
    const timestamps = (cols['timestamp'] ?? []).map(parseNabTimestamp);
    const windowLimits = limits.map(([a, b]) => [parseNabTimestamp(a), parseNabTimestamp(b)] as const);
    return { name, timestamps, values: toNumbers(name, cols['value'] ?? []), windows: windowsToIndices(name, timestamps, windowLimits) };
  });
  return {
    dir,
    series,
    profiles: pickProfiles(profilesFileSchema.parse(readJson(join(dir, 'config', 'profiles.json')))),
    thresholds: thresholdsFileSchema.parse(readJson(join(dir, 'config', 'thresholds.json'))),
    finalResults: finalResultsFileSchema.parse(readJson(join(dir, 'results', 'final_results.json'))),
  };
}

/**
 * Reads a published detector's anomaly scores for one series
 * (results/<detector>/<category>/<detector>_<file>), checking that its rows are the data file's
 * rows (same count and timestamps).
 */
export function loadPublishedScores(dir: string, detector: string, series: NabSeries): number[] {
  const [category, file] = series.name.split('/');
  if (category === undefined || file === undefined) throw new Error(`not a category/file name: ${series.name}`);
  const source = `results/${detector}/${category}/${detector}_${file}`;
  const cols = readCsvColumns(source, readMaybeGzipped(join(dir, source)), ['timestamp', 'anomaly_score']);
  const timestamps = (cols['timestamp'] ?? []).map(parseNabTimestamp);
  if (timestamps.length !== series.timestamps.length || timestamps.some((t, i) => t !== series.timestamps[i])) {
    throw new Error(`${source}: rows do not match data/${series.name}`);
  }
  return toNumbers(source, cols['anomaly_score'] ?? []);
}

/**
 * A published detector's raw score per file and in total for one profile
 * (results/<detector>/<detector>_<profile>_scores.csv; the total is the "Totals" row).
 */
export function loadPublishedFileScores(dir: string, detector: string, profile: NabProfile): { files: Map<string, number>; total: number } {
  const source = `results/${detector}/${detector}_${profile}_scores.csv`;
  const cols = readCsvColumns(source, readMaybeGzipped(join(dir, source)), ['Detector', 'File', 'Score']);
  const scores = toNumbers(source, cols['Score'] ?? []);
  const files = new Map<string, number>();
  let total: number | undefined;
  (cols['Detector'] ?? []).forEach((d, i) => {
    const score = scores[i] ?? Number.NaN;
    if (d === 'Totals') total = score;
    else files.set(cols['File']?.[i] ?? '', score);
  });
  if (total === undefined) throw new Error(`${source}: no Totals row`);
  return { files, total };
}
