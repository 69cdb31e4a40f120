import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { SpanEvent } from '../../contracts/span.ts';
import { decodeSpan, type DlqReason } from '../../ingest/decode.ts';
import { mapOtlpRequest, type OtlpSkipReason } from '../../otlp/map-otlp.ts';
import { decodeOtlpJson } from '../../otlp/otlp-json.ts';
import { createEmbeddedEngine } from '../../engine/embedded-engine.ts';
import type { KeyRing } from '../../control/sign.ts';
import { createContext, loadConfiguredPolicy } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { createLineWriter } from '../line-writer.ts';

/**
 * Signs replay output when RUNWARDEN_HMAC_KEYS is not set. Replay sends nothing anywhere; a fixed,
 * public key keeps its output byte-identical from run to run. Guards never hold this key.
 */
export const REPLAY_KEY_RING: KeyRing = { activeKeyId: 'replay', keys: { replay: 'runwarden-replay-public-key' } };

interface ReplayOptions {
  findings?: boolean;
  policy?: string;
  format: string;
}

const FORMATS = ['runwarden', 'otlp'] as const;

export function registerReplay(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('replay')
    .description('embedded mode: run the per-run and cohort detectors over span events (JSON Lines) with no Kafka or ClickHouse; print the control commands they would send')
    .argument('<file>', 'JSON Lines of span events, or - for stdin')
    .option('--format <format>', `input lines: runwarden (span events) or otlp (OTLP/JSON trace export requests, one per line, as the collector's file exporter or kafka exporter with encoding otlp_json writes them; mapped as docs/otlp.md says)`, 'runwarden')
    .option('--findings', 'interleave the findings (runwarden.finding/v1) with the commands, in the order they arise')
    .option('--policy <file>', 'policy file (YAML or JSON); default RUNWARDEN_POLICY, else built-in defaults')
    .addHelpText(
      'after',
      `
Every detector runs: per run (step-cap, tool-loop) and per cohort (cost-spike, judge-drift, fed
the cohort partials of every event as it is applied). Deterministic: event time drives every
window, issued_at and ts; the same input gives the same output bytes. Bad lines are reported on stderr and skipped (as the DLQ would take them); the
future-timestamp check is off, since it would depend on the wall clock. Commands are signed with
RUNWARDEN_HMAC_KEYS when set, else with a fixed public key id "replay".
Exit code 0 unless the input could not be read (4).

Examples:
  npx runwarden simulate --runs 500 --out fleet.jsonl && npx runwarden replay fleet.jsonl --findings
  cat spans.jsonl | npx runwarden replay - --policy policy.yaml > commands.jsonl`,
    )
    .action(async (file: string, opts: ReplayOptions) => {
      if (!(FORMATS as readonly string[]).includes(opts.format)) throw new CliError(`--format: expected one of ${FORMATS.join(', ')}; got "${opts.format}"`, EXIT.usage);
      const ctx = createContext(env);
      const policy = await loadConfiguredPolicy(ctx, opts.policy);
      const engine = createEmbeddedEngine({ policy, keyRing: ctx.config.hmac ?? REPLAY_KEY_RING });
      const input: Readable = file === '-' ? process.stdin : createReadStream(file);
      const out = createLineWriter(process.stdout);
      const bad: Partial<Record<DlqReason, number>> = {};
      const skipped: Partial<Record<OtlpSkipReason, number>> = {};
      let spans = 0;
      const actions: Record<string, number> = {};
      const rules: Record<string, number> = {};
      let lines = 0;
      let valid = 0;
      let reported = 0;

      const reject = (reason: DlqReason, message: string) => {
        bad[reason] = (bad[reason] ?? 0) + 1;
        // Reported one per line up to 100, then only counted: a wrong file must not flood the terminal.
        if (reported++ < 100) process.stderr.write(`line ${lines}: ${reason}: ${message}\n`);
      };
      const reader = createInterface({ input, crlfDelay: Infinity });
      try {
        for await (const line of reader) {
          lines++;
          if (line.trim() === '') continue;
          let events: SpanEvent[];
          if (opts.format === 'otlp') {
            const decoded = decodeOtlpJson(line);
            if (!decoded.ok) {
              reject(decoded.reason, decoded.message);
              continue;
            }
            const mapped = mapOtlpRequest(decoded.request, ctx.config.otlp.mapping);
            spans += mapped.spans;
            for (const [reason, n] of Object.entries(mapped.skipped) as Array<[OtlpSkipReason, number]>) skipped[reason] = (skipped[reason] ?? 0) + n;
            events = mapped.events;
          } else {
            const decoded = decodeSpan(line, { nowMs: 0, maxFutureMs: Number.POSITIVE_INFINITY });
            if (!decoded.ok) {
              reject(decoded.reason, decoded.message);
              continue;
            }
            events = [decoded.event];
          }
          valid += events.length;
          for (const event of events) {
            for (const { finding, command } of engine.apply(event)) {
              rules[`${finding.detector}/${finding.rule}`] = (rules[`${finding.detector}/${finding.rule}`] ?? 0) + 1;
              if (opts.findings) await out.write(JSON.stringify(finding));
              if (command) {
                actions[command.action] = (actions[command.action] ?? 0) + 1;
                await out.write(JSON.stringify(command));
              }
            }
          }
        }
      } catch (err) {
        throw new CliError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`, EXIT.input);
      }
      await out.end();

      const badTotal = Object.values(bad).reduce((a, b) => a + (b ?? 0), 0);
      const summary = [
        `replayed ${lines} lines: ${valid} events, ${badTotal} bad${badTotal ? ` (${fmt(bad)})` : ''}, ${engine.perRun.duplicates} duplicates dropped`,
        ...(opts.format === 'otlp' ? [`otlp: ${spans} spans, skipped ${fmt(skipped) || 'none'}`] : []),
        `findings: ${fmt(rules) || 'none'}`,
        `commands: ${fmt(actions) || 'none'}`,
        `runs still open: ${engine.perRun.runs.size}`,
        `cohorts: ${engine.partials} partials, ${engine.cohort.size} detector states live, ${engine.cohort.evicted} dropped as idle`,
      ];
      process.stderr.write(`${summary.join('\n')}\n`);
    });
}

const fmt = (counts: Record<string, number | undefined>) =>
  Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v ?? 0}`)
    .join(', ');
