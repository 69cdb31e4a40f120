import type { Writable } from 'node:stream';

export interface LineWriter {
  /** Writes one line; waits when the stream is full (so a slow reader slows us, not our memory). */
  write(line: string): Promise<void>;
  end(): Promise<void>;
}

/**
 * Line output to stdout that respects backpressure and treats a closed reader (EPIPE, e.g.
 * `| head`) as the end of output rather than a crash.
 */
export function createLineWriter(stream: Writable): LineWriter {
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true;
    else throw err;
  });
  return {
    async write(line) {
      if (closed) return;
      if (!stream.write(`${line}\n`)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            stream.off('drain', done);
            stream.off('close', done);
            resolve();
          };
          stream.once('drain', done);
          stream.once('close', done);
        });
      }
    },
    async end() {
      if (closed || stream === process.stdout) return;
      await new Promise<void>((resolve) => stream.end(resolve));
    },
  };
}
