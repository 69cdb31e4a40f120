import type { IHeaders, KafkaMessage, Message } from 'kafkajs';
import type { DlqReason } from './decode.ts';

export interface DlqSource {
  topic: string;
  partition: number;
  offset: string;
}

/** Header names on DLQ messages; the value is the original bytes, untouched. */
export const DLQ_HEADERS = {
  reason: 'runwarden.dlq.reason',
  message: 'runwarden.dlq.message',
  topic: 'runwarden.dlq.source_topic',
  partition: 'runwarden.dlq.source_partition',
  offset: 'runwarden.dlq.source_offset',
  at: 'runwarden.dlq.at_ms',
} as const;

/** The DLQ copy of a bad message: original key, value and headers, plus why it was rejected. */
export function dlqMessage(original: KafkaMessage, reason: DlqReason, text: string, source: DlqSource, atMs: number): Message {
  const headers: IHeaders = { ...(original.headers ?? {}) };
  headers[DLQ_HEADERS.reason] = reason;
  headers[DLQ_HEADERS.message] = text.slice(0, 2_000);
  headers[DLQ_HEADERS.topic] = source.topic;
  headers[DLQ_HEADERS.partition] = String(source.partition);
  headers[DLQ_HEADERS.offset] = source.offset;
  headers[DLQ_HEADERS.at] = String(atMs);
  return { key: original.key, value: original.value, headers };
}
