/**
 * The Kafka port: the few operations the benchmarks compare Kafka clients on, so that one
 * measurement drives either client (bench/kafka-clients.ts). The product's consumers still use
 * kafkajs directly; this port is where a client switch would start.
 */

/** A message as consumed: key and value bytes, where it came from. */
export interface PortMessage {
  key: Buffer | null;
  value: Buffer | null;
  partition: number;
  /** Decimal string, as kafkajs gives it. */
  offset: string;
}

/** A message to produce (strings are sent as UTF-8). */
export interface PortRecord {
  key: string | Buffer;
  value: string | Buffer;
}

export interface PortConsumeOptions {
  topic: string;
  groupId: string;
  /** Start at the earliest offset when the group has none (default true). */
  fromBeginning?: boolean;
  /**
   * Called with the messages of one fetched batch, in offset order per partition; the next batch
   * waits for the promise it returns. Offsets are not committed (the benchmarks use fresh groups).
   */
  onBatch(messages: PortMessage[]): void | Promise<void>;
  /** Fetch settings, the same for either client: most bytes per partition per fetch (default 4 MiB)… */
  maxBytesPerPartition?: number;
  /** …and longest wait of a fetch with too little data (ms, default 500). */
  maxWaitMs?: number;
}

/** A running consumer. */
export interface PortConsumer {
  stop(): Promise<void>;
}

export interface KafkaPort {
  /** Which client this is, e.g. `kafkajs 2.2.4`. */
  readonly name: string;
  /** Sends one batch with acks from every in-sync replica, partitioned by key; resolves when acknowledged. */
  produce(topic: string, records: readonly PortRecord[]): Promise<void>;
  /** Joins `groupId`, subscribes to `topic` and calls `onBatch` until stopped. */
  consume(options: PortConsumeOptions): Promise<PortConsumer>;
  /** Disconnects the producer (consumers are stopped by their own handle). */
  close(): Promise<void>;
}

export interface KafkaPortOptions {
  brokers: string[];
  clientId: string;
}
