const NAB_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * Parses a NAB timestamp ("2014-04-10 07:15:00" in data files, "2014-04-10 07:15:00.000000" in
 * the label files) to epoch ms, read as UTC. NAB matches window limits to rows by equality, so
 * both spellings must land on the same number. Throws on anything else.
 */
export function parseNabTimestamp(text: string): number {
  const m = NAB_TIMESTAMP.exec(text.trim());
  if (m === null) throw new Error(`not a NAB timestamp: "${text}"`);
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = frac === undefined ? 0 : Math.floor(Number(frac.padEnd(6, '0')) / 1000);
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
}
