import type { Kafka, Message } from 'kafkajs';
import type { ControlCommand } from '../../src/contracts/control.ts';
import type { SpanEventInput } from '../../src/contracts/span.ts';
import type { KeyRing } from '../../src/control/sign.ts';
import { createPerRunStage } from '../../src/engine/per-run-stage.ts';
import { decodeSpan } from '../../src/ingest/decode.ts';
import type { Policy } from '../../src/policy/policy.ts';
import { simulateFleet } from '../../src/sim/fleet.ts';
import { uniqueName } from './services.ts';

/** A simulated fleet re-stamped onto the wall clock: event i is due at `startMs + i / rate`. */
export interface LiveFleet {
  events: SpanEventInput[];
  startMs: number;
  ratePerSecond: number;
}

/**
 * `seconds` of a fleet with injected runaways (tool loops, step-cap overruns, token spikes) at
 * `ratePerSecond`, in event-time order, each event's ts set to when it is due, so that commands
 * issued for it (issued_at = the trigger's ts) say how late they arrived.
 */
export function liveFleet(options: { seconds: number; ratePerSecond: number; startMs: number; seed?: number; runawayShare?: number }): LiveFleet {
  const wanted = Math.ceil(options.seconds * options.ratePerSecond);
  // ~12.5 events per run (measured); generate a few more runs than needed and cut.
  const fleet = simulateFleet({ runs: Math.ceil(wanted / 11) + 10, seed: options.seed ?? 5, runawayShare: options.runawayShare ?? 0.1, startMs: 0 });
  const events = fleet.events.slice(0, wanted).map((e, i) => ({ ...e, ts: options.startMs + Math.floor((i * 1000) / options.ratePerSecond) }));
  return { events, startMs: options.startMs, ratePerSecond: options.ratePerSecond };
}

/** The commands one clean pass of the per-run stage issues for `events`, by command_id. */
export function expectedCommands(events: readonly SpanEventInput[], policy: Policy, keyRing: KeyRing): Map<string, ControlCommand> {
  const stage = createPerRunStage({ policy, keyRing });
  const out = new Map<string, ControlCommand>();
  for (const input of events) {
    const decoded = decodeSpan(JSON.stringify(input), { nowMs: Number.MAX_SAFE_INTEGER / 2 });
    if (!decoded.ok) throw new Error(`fleet event ${input.event_id} does not decode: ${decoded.message}`);
    for (const e of stage.apply(decoded.event)) if (e.command) out.set(e.command.command_id, e.command);
  }
  return out;
}

export interface FleetProducer {
  /** Resolves once every event (and every extra message) is acknowledged. */
  done: Promise<void>;
  /** Messages acknowledged so far. */
  produced(): number;
  /** Wall-clock ms each event was handed to the producer, by event_id (for latencies). */
  sentAt: Map<string, number>;
}

/**
 * Produces the fleet in real time (each event once due, every `tickMs`), keyed by run_id.
 * `extra(i)` may return messages to slip in after event i (bad input, duplicates).
 */
export function produceLive(kafka: Kafka, topic: string, fleet: LiveFleet, options: { tickMs?: number; extra?: (i: number, event: SpanEventInput) => Message[] } = {}): FleetProducer {
  const producer = kafka.producer();
  const sentAt = new Map<string, number>();
  let produced = 0;
  const tick = options.tickMs ?? 50;
  const done = (async () => {
    await producer.connect();
    try {
      let i = 0;
      while (i < fleet.events.length) {
        const now = Date.now();
        const messages: Message[] = [];
        while (i < fleet.events.length && Number((fleet.events[i] as SpanEventInput).ts) <= now) {
          const event = fleet.events[i] as SpanEventInput;
          messages.push({ key: event.run_id, value: JSON.stringify(event) });
          sentAt.set(event.event_id, now);
          if (options.extra) messages.push(...options.extra(i, event));
          i++;
        }
        // Requests stay well under the broker's message.max.bytes even after a stall.
        for (let at = 0; at < messages.length; at += 500) {
          const chunk = messages.slice(at, at + 500);
          await producer.send({ topic, acks: -1, messages: chunk });
          produced += chunk.length;
        }
        const next = fleet.events[i];
        if (next) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(tick, (next.ts as number) - Date.now()))));
      }
    } finally {
      await producer.disconnect();
    }
  })();
  return { done, produced: () => produced, sentAt };
}

export interface ReceivedCommand {
  command: ControlCommand;
  /** Wall-clock ms it was read from the control topic. */
  receivedAtMs: number;
}

/** Follows the control topic from the beginning, recording every command (heartbeats aside) as it arrives. */
export async function followCommands(kafka: Kafka, topic: string): Promise<{ received: ReceivedCommand[]; stop: () => Promise<void> }> {
  const consumer = kafka.consumer({ groupId: uniqueName('follow'), maxWaitTimeInMs: 100 });
  const received: ReceivedCommand[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const receivedAtMs = Date.now();
      const command = JSON.parse(message.value?.toString('utf8') ?? 'null') as ControlCommand;
      if (command.action !== 'heartbeat') received.push({ command, receivedAtMs });
    },
  });
  return { received, stop: () => consumer.disconnect() };
}
