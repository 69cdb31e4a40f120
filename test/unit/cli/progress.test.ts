import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../../src/cli/progress.ts';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, text: () => chunks.join('') };
}

describe('createProgress', () => {
  it('without a TTY: plain lines at each step, no control characters, log lines untouched', () => {
    const bar = sink(false);
    const out = sink(false);
    const p = createProgress({ bar: bar.stream, out: out.stream, label: 'fleet time', step: 0.5 });
    p.update(0.2, '1 event');
    p.update(0.6, '3 events');
    p.log('ABORT run:r1');
    p.update(0.7);
    p.finish('5 events');
    expect(bar.text()).toBe('fleet time: 50% (3 events)\nfleet time: 100% (5 events)\n');
    expect(out.text()).toBe('ABORT run:r1\n');
  });

  it('on a TTY: redraws in place at most once per interval and clears the bar around log lines', () => {
    const bar = sink(true);
    const out = sink(false);
    let now = 0;
    const p = createProgress({ bar: bar.stream, out: out.stream, label: 'x', intervalMs: 100, now: () => now });
    p.update(0.5);
    now = 50;
    p.update(0.6); // within the interval: not drawn
    p.log('line');
    now = 200;
    p.finish();
    const drawn = bar.text();
    expect(drawn.match(/\r\x1b\[2K/g)?.length).toBe(3);
    expect(drawn).toContain(' 50%');
    expect(drawn).not.toContain(' 60%');
    expect(drawn.endsWith('100%\n')).toBe(true);
    expect(out.text()).toBe('line\n');
  });
});
