import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { verifyCommand } from '../../control/sign.ts';
import { createKafka } from '../../kafka/client.ts';
import { createContext, kafkaUnavailable, untilShutdownSignal } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { createLineWriter } from '../line-writer.ts';

interface TailOptions {
  only?: string;
  fromBeginning?: boolean;
  json?: boolean;
  heartbeats?: boolean;
  count?: string;
}

export function registerTail(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('tail')
    .description('watch control commands (agent.control) and findings (runwarden.findings) as they are issued, with signatures checked')
    .option('--only <what>', 'commands or findings (default: both)')
    .option('--from-beginning', 'start from the oldest message the topics hold, not the newest')
    .option('--json', 'print each command or finding as its JSON (one per line; `schema` tells them apart) instead of a summary line')
    .option('--heartbeats', 'include warden heartbeats')
    .option('--count <n>', 'exit after this many messages')
    .addHelpText(
      'after',
      `
Each line: time (event time), ACTION or FINDING, scope, detector/rule, observed vs threshold, and
for commands whether the signature verifies with RUNWARDEN_HMAC_KEYS (when set). Watching never
moves anyone's offsets (a group of its own that does not commit). Ctrl-C to stop.

Examples:
  npx runwarden tail                          # everything from now on
  npx runwarden tail --only commands --heartbeats
  npx runwarden tail --only findings --from-beginning --count 20
  npx runwarden tail --json | jq -c 'select(.action == "abort")'`,
    )
    .action(async (opts: TailOptions) => {
      const ctx = createContext(env);
      const limit = opts.count === undefined ? Number.POSITIVE_INFINITY : Number(opts.count);
      if (!(limit > 0)) throw new CliError('--count must be a positive number', EXIT.usage);
      if (opts.only !== undefined && opts.only !== 'commands' && opts.only !== 'findings') throw new CliError(`--only must be commands or findings (got ${opts.only})`, EXIT.usage);
      const { control, findings } = ctx.config.topics;
      const topics = opts.only === 'commands' ? [control] : opts.only === 'findings' ? [findings] : [control, findings];
      const kafka = createKafka(ctx.config.kafka, ctx.logger);
      // A group of its own that never commits: watching must not move anyone's offsets.
      const consumer = kafka.consumer({ groupId: `runwarden-tail-${randomUUID()}` });
      const out = createLineWriter(process.stdout);
      let seen = 0;
      let done!: () => void;
      const finished = Promise.race([new Promise<void>((r) => (done = r)), untilShutdownSignal()]);
      try {
        await consumer.connect();
        await consumer.subscribe({ topics, fromBeginning: opts.fromBeginning ?? false });
      } catch (err) {
        throw kafkaUnavailable(ctx, `cannot read ${topics.join(' and ')} from Kafka`, err);
      }
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, message }) => {
          if (seen >= limit) return;
          const text = message.value?.toString('utf8') ?? '';
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const action = (parsed as { action?: unknown } | undefined)?.action;
          if (action === 'heartbeat' && !opts.heartbeats) return;
          seen++;
          if (opts.json) await out.write(text);
          else if (topic === findings) await out.write(describeFinding(parsed, text));
          else await out.write(describe(parsed, text, ctx.config.hmac ? verifyCommand(parsed, ctx.config.hmac, Date.now()) : undefined));
          if (seen >= limit) done();
        },
      });
      await finished;
      await consumer.disconnect();
    });
}

/** A finding on one line: when, severity, scope, detector/rule, observed vs threshold (and baseline). */
function describeFinding(parsed: unknown, raw: string): string {
  const f = parsed as { ts?: number; severity?: string; detector?: string; rule?: string; scope?: { kind?: string; id?: string }; observed?: number; threshold?: number; baseline?: number } | undefined;
  if (!f || typeof f !== 'object' || !f.detector) return `?? not a finding: ${raw.slice(0, 200)}`;
  const when = typeof f.ts === 'number' ? new Date(f.ts).toISOString() : '?';
  const base = f.baseline === undefined ? '' : ` (baseline ${f.baseline})`;
  return `${when} ${`FINDING ${f.severity ?? ''}`.padEnd(16)} ${f.scope?.kind}:${f.scope?.id} ${f.detector}/${f.rule} observed ${String(f.observed)} vs ${String(f.threshold)}${base}`;
}

/** One line a person can read: when, what, where, why, and whether the signature holds. */
function describe(parsed: unknown, raw: string, verdict: ReturnType<typeof verifyCommand> | undefined): string {
  const c = parsed as { issued_at?: number; action?: string; scope?: { kind?: string; id?: string }; reason?: Record<string, unknown>; expires_at?: number } | undefined;
  if (!c || typeof c !== 'object' || !c.action) return `?? not a command: ${raw.slice(0, 200)}`;
  const when = typeof c.issued_at === 'number' ? new Date(c.issued_at).toISOString() : '?';
  const r = c.reason ?? {};
  const why = `${String(r['detector'])}/${String(r['rule'])} observed ${String(r['observed'])} vs ${String(r['threshold'])}${r['note'] ? ` — ${String(r['note'])}` : ''}`;
  const until = typeof c.expires_at === 'number' ? ` until ${new Date(c.expires_at).toISOString()}` : '';
  const sig = verdict === undefined ? '' : verdict.ok ? ' [signature ok]' : ` [REJECTED: ${verdict.reason}]`;
  return `${when} ${c.action.padEnd(11)} ${c.scope?.kind}:${c.scope?.id} ${why}${until}${sig}`;
}
