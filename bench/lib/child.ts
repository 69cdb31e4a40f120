import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A forked bench process (tsx, IPC channel) and its latest report of each type. */
export interface Child<R extends { type: string }> {
  proc: ChildProcess;
  /** Resolves with the first message of `type`. */
  first<T extends R['type']>(type: T, timeoutMs?: number): Promise<Extract<R, { type: T }>>;
  onReport(listener: (report: R) => void): void;
  /** Sends `stop`, waits for the exit (kills the child by its pid after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
}

/** Forks `bench/<file>` with `config` as its one argument (JSON); `nodeFlags` go to its node (e.g. `--cpu-prof`). */
export function forkBench<R extends { type: string }>(file: string, config: object, name: string, nodeFlags: string[] = []): Child<R> {
  const path = fileURLToPath(new URL(`../${file}`, import.meta.url));
  const proc = fork(path, [JSON.stringify(config)], { execArgv: [...nodeFlags, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const listeners: Array<(r: R) => void> = [];
  proc.on('message', (m) => {
    for (const l of listeners) l(m as R);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    first(type, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no "${type}" message within ${timeoutMs} ms`)), timeoutMs);
        void exited.then((code) => reject(new Error(`${name} exited (code ${code}) before sending "${type}"`)));
        listeners.push((r) => {
          if (r.type !== type) return;
          clearTimeout(timer);
          resolve(r as Extract<R, { type: typeof type }>);
        });
      });
    },
    onReport(listener) {
      listeners.push(listener);
    },
    async stop(timeoutMs = 60_000) {
      if (proc.exitCode !== null) return;
      if (proc.connected) proc.send({ type: 'stop' });
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      if (code !== 0) process.stderr.write(`[bench] ${name} exited with code ${code}\n`);
    },
  };
}
