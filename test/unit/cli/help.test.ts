import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../../src/cli/exit-codes.ts';
import { buildProgram } from '../../../src/cli/main.ts';

/** Every leaf command (budgets check, not budgets), with its full name. */
function leaves(cmd: Command, prefix = ''): Array<[string, Command]> {
  return cmd.commands.flatMap((c) => (c.commands.length ? leaves(c, `${prefix}${c.name()} `) : [[`${prefix}${c.name()}`, c] as [string, Command]]));
}

/** The help text as commander prints it, "after" text included. */
function helpOf(cmd: Command): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

describe('runwarden --help', () => {
  const program = buildProgram({});

  it('names every command of SPEC §7 and the operator experience', () => {
    const names = leaves(program).map(([n]) => n);
    for (const n of ['start', 'replay', 'simulate', 'migrate', 'kill-switch', 'resume', 'tail', 'report', 'sql', 'demo', 'budgets check', 'schemas']) expect(names).toContain(n);
  });

  it.each(leaves(buildProgram({})))('%s --help has examples that call runwarden', (_, cmd) => {
    const help = helpOf(cmd);
    expect(help).toContain('Examples:');
    expect(help).toMatch(/npx runwarden \S+/);
  });

  it('lists every exit code with what it means', () => {
    const help = helpOf(program);
    for (const code of Object.values(EXIT)) expect(help).toMatch(new RegExp(`^  ${code}  \\S`, 'm'));
  });
});
