import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `runwarden <args>` as a real process in the repo root; its stderr is echoed with its pid (unless
 * `quiet`). The metrics endpoint is off unless `env` or `--metrics-port` asks for it: wardens of
 * parallel test runs on one machine would otherwise compete for the default port.
 */
export function spawnWarden(args: readonly string[], env: Record<string, string | undefined>, quiet = false): ChildProcess {
  const childEnv = { ...env, RUNWARDEN_METRICS_PORT: env['RUNWARDEN_METRICS_PORT'] ?? '0' };
  const child = spawn(process.execPath, ['bin/runwarden.js', ...args], { cwd: root, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  if (!quiet) child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[warden ${child.pid}] ${d.toString()}`));
  return child;
}

/**
 * Polls `check` every 100 ms until it holds, for state that announces no event (committed offsets,
 * rows in ClickHouse written by another process); throws after `timeoutMs`.
 */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
