import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** A Kafka broker of the test's own, to stop and start at will (the shared one is never restarted). */
export interface DedicatedBroker {
  /** host:port for KAFKA_BROKERS. */
  readonly brokers: string[];
  /** Stops the broker process (SIGTERM: controlled shutdown; SIGKILL: a crash) and waits for it to exit. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same data and ports; resolves once it answers. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

/**
 * With a Docker engine, a container of the integration setup's broker image (stopped and started
 * with the Docker CLI). Otherwise a single-node KRaft broker with scripts/services.sh on free ports, in its own services
 * directory (`.services/chaos-broker`, ignored), from nothing: the Kafka jars are linked from a
 * services directory that already resolved them for the same pom (this clone's `.services`, or
 * the main checkout's when this is a git worktree, or RUNWARDEN_KAFKA_LIBS), else Maven resolves
 * them once into the chaos directory (reusing a local Maven repository when there is one).
 */
export async function startDedicatedBroker(): Promise<DedicatedBroker> {
  if (await dockerAnswers()) return startBrokerContainer();
  const dir = join(root, '.services', 'chaos-broker');
  const kafkaDir = join(dir, 'kafka');
  mkdirSync(kafkaDir, { recursive: true });
  await stopPidFile(join(kafkaDir, 'pid'), 'SIGKILL'); // a broker a crashed earlier run left behind
  rmSync(join(kafkaDir, 'data'), { recursive: true, force: true });
  await linkJars(dir);
  const [port, controllerPort] = [await freePort(), await freePort()];
  const env = { ...process.env, RUNWARDEN_SERVICES_DIR: dir, RUNWARDEN_KAFKA_PORT: String(port), RUNWARDEN_KAFKA_CONTROLLER_PORT: String(controllerPort) };
  const up = async () => {
    await run('bash', [join(root, 'scripts/services.sh'), 'up', 'kafka'], { cwd: root, env, timeout: 600_000 });
  };
  await up();
  return {
    brokers: [`127.0.0.1:${port}`],
    stop: (signal = 'SIGTERM') => stopPidFile(join(kafkaDir, 'pid'), signal),
    start: up,
    async destroy() {
      await stopPidFile(join(kafkaDir, 'pid'), 'SIGKILL');
      rmSync(join(kafkaDir, 'data'), { recursive: true, force: true });
    },
  };
}

/**
 * With a Docker engine: the broker image the integration setup uses, on a fixed host port (so a
 * restarted container answers where the clients reconnect), stopped and started with the CLI.
 */
async function startBrokerContainer(): Promise<DedicatedBroker> {
  const tc = await import('testcontainers');
  const port = await freePort();
  const container = await new tc.GenericContainer('apache/kafka:4.1.1')
    .withExposedPorts({ container: 9092, host: port })
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093,INTERNAL://:19092',
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port},INTERNAL://localhost:19092`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    })
    .withWaitStrategy(tc.Wait.forLogMessage(/Kafka Server started/))
    .start();
  const id = container.getId();
  return {
    brokers: [`127.0.0.1:${port}`],
    async stop(signal = 'SIGTERM') {
      await run('docker', signal === 'SIGKILL' ? ['kill', id] : ['stop', '-t', '30', id]);
    },
    async start() {
      await run('docker', ['start', id]);
      const deadline = Date.now() + 120_000;
      while (!(await answers(port))) {
        if (Date.now() > deadline) throw new Error(`the broker container did not answer on ${port} within 120 s`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    destroy: async () => {
      await container.stop();
    },
  };
}

async function dockerAnswers(): Promise<boolean> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

/** True once something accepts TCP connections on the loopback port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolveAnswer(true);
    });
    socket.on('error', () => resolveAnswer(false));
  });
}

/** Links `<dir>/kafka/libs` to jars resolved for this pom elsewhere, when there are any. */
async function linkJars(dir: string): Promise<void> {
  const libs = join(dir, 'kafka', 'libs');
  const want = createHash('sha256').update(readFileSync(join(root, 'services/kafka/pom.xml'))).digest('hex');
  const stamped = (d: string) => {
    try {
      return readFileSync(join(d, '.pom.sha'), 'utf8').trim() === want;
    } catch {
      return false;
    }
  };
  if (stamped(libs)) return;
  const servicesDirs = [join(root, '.services')];
  const mainCheckout = await gitMainCheckout();
  if (mainCheckout) servicesDirs.push(join(mainCheckout, '.services'));
  const candidates = [process.env.RUNWARDEN_KAFKA_LIBS, ...servicesDirs.map((d) => join(d, 'kafka', 'libs'))].filter((d): d is string => !!d);
  const found = candidates.find(stamped);
  rmSync(libs, { recursive: true, force: true });
  if (found) {
    symlinkSync(resolve(found), libs);
    return;
  }
  // No resolved jars anywhere: services.sh resolves them with Maven into <dir>/m2; reuse a local repository.
  const m2 = join(dir, 'm2');
  const repos = [...servicesDirs.map((d) => join(d, 'm2')), join(process.env.HOME ?? '/root', '.m2', 'repository')];
  const repo = repos.find((r) => existsSync(r));
  if (repo && !existsSync(m2) && !isLink(m2)) symlinkSync(resolve(repo), m2);
}

/** The main checkout of this clone when it is a git worktree (its `.services` has the jars). */
async function gitMainCheckout(): Promise<string | undefined> {
  try {
    const { stdout } = await run('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: root });
    const main = dirname(stdout.trim());
    return main === resolve(root) ? undefined : main;
  } catch {
    return undefined;
  }
}

const isLink = (p: string) => {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
};

/** Signals the process named by a pid file (one this helper started) and waits until it is gone. */
async function stopPidFile(pidFile: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.kill(pid, signal);
  const deadline = Date.now() + 60_000;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True while the process runs (a zombie nobody reaps, as orphans in a container can be, counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (macOS): the signal answered
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}
