import type { Command } from 'commander';
import { buildJsonSchemas, writeJsonSchemas } from '../../contracts/json-schema.ts';

export function registerSchemas(program: Command): void {
  program
    .command('schemas')
    .description('print the JSON Schemas of the wire contracts (span, control, finding) for producers in other languages')
    .option('--write [dir]', 'write them to a folder instead (default: schemas)')
    .addHelpText(
      'after',
      `
Examples:
  npx runwarden schemas | jq '.span'
  npx runwarden schemas --write ./contracts`,
    )
    .action(async (opts: { write?: string | boolean }) => {
      if (opts.write) {
        const dir = typeof opts.write === 'string' ? opts.write : 'schemas';
        await writeJsonSchemas(dir);
        process.stderr.write(`wrote JSON Schemas to ${dir}/\n`);
      } else {
        process.stdout.write(`${JSON.stringify(buildJsonSchemas(), null, 2)}\n`);
      }
    });
}
