import type { Producer, Transaction } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createTransactor, TransactionFailedError } from '../../../src/kafka/transactor.ts';

/**
 * A transactional producer with kafkajs's state machine (src/producer/eosManager): READY →
 * TRANSACTING → COMMITTING/ABORTING → READY, where a failed EndTxn leaves it in COMMITTING or
 * ABORTING and every later transaction() throws.
 */
function fakeProducer(broker: { up: boolean; log: string[] }, name: string) {
  let state: 'READY' | 'TRANSACTING' | 'COMMITTING' | 'ABORTING' = 'READY';
  let disconnected = false;
  /** Whether the transaction registered a partition (kafkajs sends no EndTxn otherwise). */
  let ongoing = false;
  const endTxn = async (result: string) => {
    if (!ongoing) {
      state = 'READY';
      return;
    }
    if (!broker.up) throw Object.assign(new Error('Connection error: connect ECONNREFUSED'), { retriable: true });
    broker.log.push(`${name} ${result}`);
    state = 'READY';
    ongoing = false;
  };
  const producer = {
    connect: async () => undefined,
    disconnect: async () => {
      disconnected = true;
    },
    transaction: async (): Promise<Transaction> => {
      if (!broker.up) throw new Error('Connection error: connect ECONNREFUSED');
      if (state !== 'READY') throw new Error(`Invalid state transition ${state} -> TRANSACTING`);
      state = 'TRANSACTING';
      const guard = async (to: 'COMMITTING' | 'ABORTING', result: string) => {
        if (state !== 'TRANSACTING') throw new Error(`Invalid state transition ${state} -> ${to}`);
        state = to;
        await endTxn(result);
      };
      return {
        send: async () => {
          if (!broker.up) throw new Error('Connection error: connect ECONNREFUSED');
          broker.log.push(`${name} send`);
          ongoing = true;
          return [];
        },
        sendOffsets: async () => {
          ongoing = true;
        },
        commit: () => guard('COMMITTING', 'commit'),
        abort: () => guard('ABORTING', 'abort'),
      } as unknown as Transaction;
    },
  };
  return { producer: producer as unknown as Producer, state: () => state, disconnected: () => disconnected };
}

const quiet = { warn: () => undefined };

describe('createTransactor', () => {
  function setup() {
    const broker = { up: true, log: [] as string[] };
    const made: Array<ReturnType<typeof fakeProducer>> = [];
    const t = createTransactor(() => {
      const p = fakeProducer(broker, `p${made.length}`);
      made.push(p);
      return p.producer;
    }, quiet);
    return { broker, made, t };
  }

  it('commits a transaction with one producer', async () => {
    const { broker, made, t } = setup();
    await t.run(async (tx) => void (await tx.send({ topic: 't', messages: [] })));
    await t.run(async (tx) => void (await tx.send({ topic: 't', messages: [] })));
    expect(broker.log).toEqual(['p0 send', 'p0 commit', 'p0 send', 'p0 commit']);
    expect(made).toHaveLength(1);
    expect(t.replaced).toBe(0);
  });

  it('a commit without an answer: outcome unknown, the stuck producer replaced, the next transaction commits', async () => {
    const { broker, made, t } = setup();
    const failed = t.run(async (tx) => {
      await tx.send({ topic: 't', messages: [] });
      broker.up = false; // the broker goes as the commit is sent
    });
    await expect(failed).rejects.toBeInstanceOf(TransactionFailedError);
    await expect(failed).rejects.toMatchObject({ outcome: 'unknown' });
    // kafkajs would be stuck in COMMITTING; the transactor dropped that producer.
    expect(made[0]?.state()).toBe('COMMITTING');
    expect(made[0]?.disconnected()).toBe(true);
    expect(t.replaced).toBe(1);
    broker.up = true;
    await t.settle();
    await t.run(async (tx) => void (await tx.send({ topic: 't', messages: [] })));
    expect(broker.log).toEqual(['p0 send', 'p1 send', 'p1 commit']);
  });

  it('work that fails with the broker up: aborted, same producer', async () => {
    const { broker, made, t } = setup();
    await expect(
      t.run(async () => {
        throw new Error('message too large');
      }),
    ).rejects.toMatchObject({ outcome: 'aborted', cause: new Error('message too large') });
    await expect(
      t.run(async (tx) => {
        await tx.send({ topic: 't', messages: [] });
        throw new Error('message too large');
      }),
    ).rejects.toMatchObject({ outcome: 'aborted' });
    expect(broker.log).toEqual(['p0 send', 'p0 abort']);
    expect(made).toHaveLength(1);
    await t.run(async (tx) => void (await tx.send({ topic: 't', messages: [] })));
    expect(broker.log).toEqual(['p0 send', 'p0 abort', 'p0 send', 'p0 commit']);
  });

  it('work that fails and an abort that fails too: aborted, the stuck producer replaced', async () => {
    const { broker, made, t } = setup();
    const failed = t.run(async (tx) => {
      await tx.send({ topic: 't', messages: [] });
      broker.up = false;
      throw new Error('the next send timed out');
    });
    await expect(failed).rejects.toMatchObject({ outcome: 'aborted' });
    expect(made[0]?.state()).toBe('ABORTING');
    expect(t.replaced).toBe(1);
    broker.up = true;
    await t.run(async (tx) => void (await tx.send({ topic: 't', messages: [] })));
    expect(broker.log).toEqual(['p0 send', 'p1 send', 'p1 commit']);
  });

  it('no transaction begun (broker away): aborted, nothing to replace', async () => {
    const { broker, made, t } = setup();
    broker.up = false;
    await expect(t.run(async () => undefined)).rejects.toMatchObject({ outcome: 'aborted' });
    expect(made).toHaveLength(1);
    broker.up = true;
    await t.run(async (tx) => void (await tx.send({ topic: 't', messages: [] })));
    expect(broker.log).toEqual(['p0 send', 'p0 commit']);
  });
});
