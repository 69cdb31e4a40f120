import { EventEmitter } from 'node:events';
import type { Consumer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { restartOnCrash } from '../../../src/kafka/restart-on-crash.ts';

/** The slice of a kafkajs consumer restartOnCrash uses: CRASH events. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const consumer = {
    events: { CRASH: 'consumer.crash' },
    on: (name: string, listener: (e: unknown) => void) => {
      emitter.on(name, listener);
      return () => emitter.off(name, listener);
    },
  } as unknown as Consumer;
  const crash = (restart: boolean) => emitter.emit('consumer.crash', { payload: { error: new Error('boom'), groupId: 'g', restart } });
  return { consumer, crash };
}

const quiet = { warn: () => undefined, error: () => undefined };
const settle = () => new Promise((r) => setTimeout(r, 30));

describe('restartOnCrash', () => {
  it('leaves a crash kafkajs restarts itself alone', async () => {
    const { consumer, crash } = fakeConsumer();
    let reruns = 0;
    restartOnCrash(consumer, { logger: quiet, isStopping: () => false, rerun: async () => void reruns++, backoffMs: 1 });
    crash(true);
    await settle();
    expect(reruns).toBe(0);
  });

  it('re-runs the consumer after a non-retriable crash, retrying until it runs', async () => {
    const { consumer, crash } = fakeConsumer();
    let attempts = 0;
    restartOnCrash(consumer, {
      logger: quiet,
      isStopping: () => false,
      backoffMs: 1,
      rerun: async () => {
        if (++attempts < 3) throw new Error('broker still away');
      },
    });
    crash(false);
    crash(false); // a second crash while restarting starts no second restart
    await settle();
    expect(attempts).toBe(3);
  });

  it('does nothing once the owner is stopping', async () => {
    const { consumer, crash } = fakeConsumer();
    let reruns = 0;
    restartOnCrash(consumer, { logger: quiet, isStopping: () => true, rerun: async () => void reruns++, backoffMs: 1 });
    crash(false);
    await settle();
    expect(reruns).toBe(0);
  });
});
