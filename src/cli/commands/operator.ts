import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Scope } from '../../contracts/common.ts';
import type { ControlCommand, UnsignedControlCommand } from '../../contracts/control.ts';
import { killSwitchCommand, resumeCommand, type KillSwitchScope } from '../../control/operator.ts';
import { signCommand } from '../../control/sign.ts';
import { createKafka, createReliableProducer } from '../../kafka/client.ts';
import { defaultTopicSpecs, ensureTopics } from '../../kafka/topics.ts';
import { parseDurationMs } from '../../policy/duration.ts';
import { migrate } from '../../store/migrate.ts';
import { commandToRow } from '../../store/rows.ts';
import { createContext, kafkaUnavailable, openConfiguredStore, requireKeyRing, type CliContext } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';

interface ScopeOptions {
  /** `KIND:ID`, e.g. tenant:acme or global (the form the issue tracker and runbooks use). */
  scope?: string;
  run?: string;
  user?: string;
  tenant?: string;
  agent?: string;
  cohort?: string;
  global?: boolean;
}

interface OperatorOptions extends ScopeOptions {
  note?: string;
  reason?: string;
  operator?: string;
  ttl?: string;
}

const KILL_KINDS = ['user', 'tenant', 'agent', 'global'] as const;
const RESUME_KINDS = ['run', 'user', 'tenant', 'agent', 'cohort', 'global'] as const;

export function registerOperatorCommands(program: Command, env: Record<string, string | undefined>): void {
  const withScope = (cmd: Command, kinds: readonly string[]) => {
    for (const kind of kinds) {
      if (kind === 'global') cmd.option('--global', 'every agent, tenant and user');
      else cmd.option(`--${kind} <id>`, `the ${kind} to act on`);
    }
    return cmd
      .option('--scope <kind:id>', `the scope as KIND:ID (${kinds.filter((k) => k !== 'scope').join(', ')}; global needs no id)`)
      .option('--reason <text>', 'why, for the audit trail and the agents\' error message')
      .option('--note <text>', 'same as --reason')
      .option('--operator <name>', 'who (default: the OS user)');
  };

  withScope(
    program
      .command('kill-switch')
      .description('block every new step of a user, tenant, agent or everything, until resumed or --ttl passes (signed, audited)')
      .option('--ttl <duration>', 'lift automatically after this long (e.g. 30m, 2h); default: until `runwarden resume`'),
    KILL_KINDS,
  )
    .addHelpText(
      'after',
      `
Needs RUNWARDEN_HMAC_KEYS (the guards' shared secret) and Kafka; the command is also written to
control_commands (the audit trail). Guards block the scope's next step with RunAbortedError.

Examples:
  npx runwarden kill-switch --tenant acme --reason "runaway spend, INC-123" --ttl 2h
  npx runwarden kill-switch --agent support-bot
  npx runwarden kill-switch --global --reason "provider outage"
  npx runwarden resume --tenant acme`,
    )
    .action(async (opts: OperatorOptions) => {
    const scope = scopeFrom(opts, KILL_KINDS) as KillSwitchScope;
    const ttlMs = opts.ttl === undefined ? undefined : parseDurationMs(opts.ttl);
    if (opts.ttl !== undefined && (ttlMs === undefined || ttlMs <= 0)) throw new CliError(`--ttl: "${opts.ttl}" is not a duration; write e.g. 90s, 30m, 2h or 1d`, EXIT.usage);
    await issue(env, opts, (issuedAt, note) =>
      killSwitchCommand({ scope, issuedAt, ...(ttlMs !== undefined ? { ttlMs } : {}), ...(note !== undefined ? { note } : {}) }),
    );
  });

  withScope(
    program.command('resume').description('lift a kill switch or throttle on exactly that scope (signed, audited)'),
    RESUME_KINDS,
  )
    .addHelpText(
      'after',
      `
Lifts exactly the scope named (a tenant's resume does not lift a kill switch on one of its users).
Cohort throttles name the cohort as their scope id: copy it from \`runwarden tail\` or the report.

Examples:
  npx runwarden resume --tenant acme --reason "INC-123 resolved"
  npx runwarden resume --global
  npx runwarden resume --cohort "agent_id=support-bot,model=gpt-4o,tenant_id=acme,user_id=u-42"
  npx runwarden resume --scope user:u-42`,
    )
    .action(async (opts: OperatorOptions) => {
    const scope = scopeFrom(opts, RESUME_KINDS);
    await issue(env, opts, (issuedAt, note) => resumeCommand({ scope, issuedAt, ...(note !== undefined ? { note } : {}) }));
  });
}

/** Exactly one scope: `--scope KIND:ID` or one of the per-kind flags; `--global` is id `*`. */
function scopeFrom(opts: ScopeOptions, allowed: readonly string[]): Scope {
  const given: Scope[] = [];
  if (opts.scope !== undefined) {
    const at = opts.scope.indexOf(':');
    const kind = at < 0 ? opts.scope : opts.scope.slice(0, at);
    const id = at < 0 ? '' : opts.scope.slice(at + 1);
    if (!allowed.includes(kind)) throw new CliError(`--scope: "${kind}" is not a scope kind here; expected one of ${allowed.join(', ')}`, EXIT.usage);
    if (kind === 'global') given.push({ kind: 'global', id: '*' });
    else if (id === '') throw new CliError(`--scope: write ${kind}:ID, e.g. ${kind}:acme`, EXIT.usage);
    else opts = { ...opts, [kind]: id };
  }
  for (const kind of ['run', 'user', 'tenant', 'agent', 'cohort'] as const) {
    const id = opts[kind];
    if (id !== undefined) {
      if (id.length === 0 || id.length > 128) throw new CliError(`--${kind}: the id must be 1 to 128 characters`, EXIT.usage);
      given.push({ kind, id });
    }
  }
  if (opts.global) given.push({ kind: 'global', id: '*' });
  if (given.length !== 1) throw new CliError(`name exactly one scope: --scope KIND:ID or one of ${allowed.map((k) => (k === 'global' ? '--global' : `--${k} ID`)).join(', ')}`, EXIT.usage);
  return given[0] as Scope;
}

/** Signs, sends on the control topic (acked by every replica), then writes the audit row. */
async function issue(
  env: Record<string, string | undefined>,
  opts: OperatorOptions,
  build: (issuedAt: number, note: string | undefined) => UnsignedControlCommand,
): Promise<void> {
  const ctx = createContext(env);
  const keyRing = requireKeyRing(ctx);
  const operator = opts.operator ?? safeUser();
  const why = opts.reason ?? opts.note;
  const command = signCommand(build(Date.now(), why === undefined ? `by ${operator}` : `${why} (by ${operator})`), keyRing);
  await send(ctx, command);
  const store = await openConfiguredStore(ctx);
  try {
    await migrate(store);
    await store.insert('control_commands', [commandToRow(command, { source: 'operator', operator })]);
  } finally {
    await store.close();
  }
  process.stdout.write(`${JSON.stringify(command)}\n`);
  process.stderr.write(`${command.action} ${command.scope.kind}:${command.scope.id} sent on ${ctx.config.topics.control} and audited (command_id ${command.command_id})\n`);
}

async function send(ctx: CliContext, command: ControlCommand): Promise<void> {
  const kafka = createKafka(ctx.config.kafka, ctx.logger);
  const producer = createReliableProducer(kafka, 15_000);
  try {
    await ensureTopics(kafka, defaultTopicSpecs(ctx.config.topics));
    await producer.connect();
    await producer.send({ topic: ctx.config.topics.control, acks: -1, messages: [{ key: command.scope.id, value: JSON.stringify(command) }] });
  } catch (err) {
    throw kafkaUnavailable(ctx, 'cannot send the command to Kafka', err, 'Nothing was sent; start Kafka or set KAFKA_BROKERS and run the command again.');
  } finally {
    await producer.disconnect();
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
