/**
 * Reads the plain CSV NAB writes (header row, comma-separated, no quoting) into named columns.
 * Throws naming `source` when a requested column is missing or a row is short.
 */
export function readCsvColumns(source: string, text: string, columns: readonly string[]): Record<string, string[]> {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = (lines[0] ?? '').split(',');
  const indices = columns.map((c) => {
    const i = header.indexOf(c);
    if (i < 0) throw new Error(`${source}: no column "${c}" (has ${header.join(', ')})`);
    return i;
  });
  const out: Record<string, string[]> = {};
  for (const c of columns) out[c] = [];
  for (let r = 1; r < lines.length; r++) {
    const cells = (lines[r] ?? '').split(',');
    columns.forEach((c, k) => {
      const cell = cells[indices[k] ?? -1];
      if (cell === undefined) throw new Error(`${source}: row ${r + 1} has no "${c}" cell`);
      out[c]?.push(cell);
    });
  }
  return out;
}

/** Parses numeric CSV cells; throws naming the source and row on anything non-finite. */
export function toNumbers(source: string, cells: readonly string[]): number[] {
  return cells.map((cell, i) => {
    const n = Number(cell);
    if (cell.trim() === '' || !Number.isFinite(n)) throw new Error(`${source}: row ${i + 2}: not a number: "${cell}"`);
    return n;
  });
}
