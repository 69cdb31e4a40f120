import { FINDING_SCHEMA_VERSION, findingSchema, type Finding } from '../../contracts/finding.ts';

export interface FindingLines {
  findings: Finding[];
  /** Lines that are not findings (replay's control commands). */
  other: number;
  /** Lines that are not JSON, or claim to be findings and do not validate. */
  invalid: number;
}

/** Keeps the findings (`schema: "runwarden.finding/v1"`) of `runwarden replay --findings` output. */
export function parseFindingLines(lines: Iterable<string>): FindingLines {
  const out: FindingLines = { findings: [], other: 0, invalid: 0 };
  for (const line of lines) addFindingLine(out, line);
  return out;
}

/** Folds one output line into `acc` (for streaming a child process's stdout line by line). */
export function addFindingLine(acc: FindingLines, line: string): void {
  if (line.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    acc.invalid++;
    return;
  }
  if (typeof value !== 'object' || value === null || (value as { schema?: unknown }).schema !== FINDING_SCHEMA_VERSION) {
    acc.other++;
    return;
  }
  const parsed = findingSchema.safeParse(value);
  if (parsed.success) acc.findings.push(parsed.data);
  else acc.invalid++;
}
