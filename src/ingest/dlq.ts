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
  /** On `detector_error`: the detector that threw. */
  detector: 'runwarden.dlq.detector',
} as const;

/** An error thrown by a detector, with the detector's name (for the DLQ). */
export interface DetectorFailure {
  detector: string;
  error: unknown;
}

/**
 * The DLQ copy of a message a detector threw on (reason `detector_error`): the original bytes,
 * the detector's name in its own header and `detector: message` as the reason text.
 */
export function detectorErrorMessage(original: KafkaMessage, failure: DetectorFailure, source: DlqSource, atMs: number): { message: Message; text: string } {
  const text = `${failure.detector}: ${failure.error instanceof Error ? failure.error.message : String(failure.error)}`;
  const message = dlqMessage(original, 'detector_error', text, source, atMs);
  (message.headers as IHeaders)[DLQ_HEADERS.detector] = failure.detector;
  return { message, text };
}

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
