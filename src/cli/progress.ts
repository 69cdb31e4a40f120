import type { Writable } from 'node:stream';

export interface ProgressOptions {
  /** Where the bar goes (stderr): redrawn in place on a TTY, a plain line every `step` otherwise. */
  bar: Writable & { isTTY?: boolean };
  /** Where `log` lines go (stdout). */
  out: Writable;
  label: string;
  /** Redraws at most this often on a TTY (ms). */
  intervalMs?: number;
  /** Without a TTY: a line each time the fraction passes another multiple of this (0..1). */
  step?: number;
  /** Wall clock (ms), injected for tests. */
  now?: () => number;
}

export interface Progress {
  /** The fraction done (0..1) and a short note (e.g. "1,204 events"). */
  update(fraction: number, note?: string): void;
  /** A line of output that must not be torn by the bar. */
  log(line: string): void;
  /** Draws 100 % and ends the bar's line. */
  finish(note?: string): void;
}

const WIDTH = 28;

/**
 * A progress bar on a terminal, plain progress lines in a pipe or a CI log (no control characters
 * there). `log` lines go to `out` between redraws, so live events and the bar share one screen.
 */
export function createProgress(options: ProgressOptions): Progress {
  const tty = options.bar.isTTY === true;
  const interval = options.intervalMs ?? 100;
  const step = options.step ?? 0.25;
  const now = options.now ?? Date.now;
  let lastDraw = -Infinity;
  let lastStep = 0;
  let shown = '';
  const render = (fraction: number, note: string) => {
    const f = Math.min(1, Math.max(0, fraction));
    const filled = Math.round(f * WIDTH);
    return `${options.label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.floor(f * 100)).padStart(3)}%${note ? `  ${note}` : ''}`;
  };
  const clear = () => {
    if (tty && shown) options.bar.write('\r\x1b[2K');
  };
  return {
    update(fraction, note = '') {
      if (tty) {
        if (now() - lastDraw < interval) return;
        lastDraw = now();
        shown = render(fraction, note);
        options.bar.write(`\r\x1b[2K${shown}`);
        return;
      }
      const reached = Math.floor(fraction / step) * step;
      if (reached > lastStep && fraction < 1) {
        lastStep = reached;
        options.bar.write(`${options.label}: ${Math.round(reached * 100)}%${note ? ` (${note})` : ''}\n`);
      }
    },
    log(line) {
      clear();
      options.out.write(`${line}\n`);
      if (tty && shown) options.bar.write(shown);
    },
    finish(note = '') {
      if (tty) {
        options.bar.write(`\r\x1b[2K${render(1, note)}\n`);
        shown = '';
      } else {
        options.bar.write(`${options.label}: 100%${note ? ` (${note})` : ''}\n`);
      }
    },
  };
}
