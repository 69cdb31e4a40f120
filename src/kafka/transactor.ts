import type { Producer, Transaction } from 'kafkajs';
import type { Logger } from '../log.ts';

/** How a failed transaction ended, as far as this process can tell. */
export type TransactionOutcome =
  /** Failed before the commit was asked for: the broker aborts it (now, or when the replacement producer fences it). */
  | 'aborted'
  /** The commit was asked for and did not answer: it may have landed. `settle()`, then look (e.g. at the committed offsets). */
  | 'unknown';

/** A transaction that did not commit, with what is known of its outcome. */
export class TransactionFailedError extends Error {
  override readonly name = 'TransactionFailedError';
  constructor(
    readonly outcome: TransactionOutcome,
    options: { cause: unknown },
  ) {
    super(`transaction ${outcome === 'aborted' ? 'aborted' : 'failed while committing (outcome unknown)'}: ${(options.cause as Error | undefined)?.message ?? String(options.cause)}`, options);
  }
}

export interface Transactor {
  connect(): Promise<void>;
  /**
   * Runs `work` in one transaction and commits it. On any failure the transaction is aborted when
   * that is still possible, the producer replaced when it is not, and a TransactionFailedError
   * says whether the transaction may have landed.
   */
  run(work: (tx: Transaction) => Promise<void>): Promise<void>;
  /**
   * Makes the outcome of a failed transaction final: the current producer registers its
   * transactional id (InitProducerId), which fences the one before and makes the coordinator
   * finish what it left (commit it if the commit was logged, abort it otherwise). Throws while
   * the broker is unreachable.
   */
  settle(): Promise<void>;
  disconnect(): Promise<void>;
  /** Producers replaced after a failure so far. */
  readonly replaced: number;
}

/**
 * A transactional producer that survives a failed transaction.
 *
 * A kafkajs transactional producer whose EndTxn request fails (a broker restarting while it
 * commits or aborts) stays in its COMMITTING or ABORTING state for good: every later
 * `transaction()` throws, and a warden would never commit an offset or write a checkpoint again
 * while looking alive. Here such a producer is dropped and a fresh one takes the same
 * transactional id; registering it fences the old epoch.
 */
export function createTransactor(make: () => Producer, logger: Pick<Logger, 'warn'>): Transactor {
  let producer = make();
  let connected: Promise<void> | undefined;
  let replaced = 0;

  const connect = (): Promise<void> => {
    connected ??= producer.connect().catch((err: unknown) => {
      connected = undefined;
      throw err;
    });
    return connected;
  };

  async function replace(cause: unknown): Promise<void> {
    const old = producer;
    producer = make();
    connected = undefined;
    replaced++;
    logger.warn({ err: cause }, 'transactional producer replaced after a failed transaction');
    await old.disconnect().catch(() => undefined);
  }

  return {
    connect,
    async run(work) {
      await connect();
      let tx: Transaction | undefined;
      let committing = false;
      try {
        tx = await producer.transaction();
        await work(tx);
        committing = true;
        await tx.commit();
      } catch (err) {
        const aborted = tx !== undefined && !committing && (await tx.abort().then(
          () => true,
          () => false,
        ));
        // transaction() itself failing leaves nothing open; a failed EndTxn leaves the producer stuck.
        if (tx !== undefined && !aborted) await replace(err);
        throw new TransactionFailedError(committing ? 'unknown' : 'aborted', { cause: err });
      }
    },
    async settle() {
      await connect();
      // Registers the producer (InitProducerId, retried by kafkajs while the coordinator finishes
      // the old transaction); an empty transaction then ends without a request.
      const tx = await producer.transaction();
      await tx.abort();
    },
    async disconnect() {
      await producer.disconnect();
    },
    get replaced() {
      return replaced;
    },
  };
}
