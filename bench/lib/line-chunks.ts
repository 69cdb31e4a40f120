import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The lines of a file (JSON Lines), a few MB at a time: each yield is the complete lines of the
 * next chunk as strings. Lets a benchmark time only its work on the lines, not the reading,
 * without holding a whole 1M-event file in memory.
 */
export function* lineChunks(path: string, chunkBytes = 8 << 20): Generator<string[]> {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(chunkBytes);
  let carry = '';
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) break;
      // Cut at the last newline so that no multi-byte character or line is split.
      const end = buf.lastIndexOf(10, n - 1);
      if (end < 0) {
        carry += buf.toString('utf8', 0, n);
        continue;
      }
      const text = carry + buf.toString('utf8', 0, end);
      carry = buf.toString('utf8', end + 1, n);
      yield text.split('\n').filter((l) => l !== '');
    }
    if (carry !== '') yield [carry];
  } finally {
    closeSync(fd);
  }
}
