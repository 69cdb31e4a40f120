import { connect } from 'node:net';

/** True when something accepts a TCP connection at host:port within `timeoutMs` (a Kafka broker left running). */
export function tcpAnswers(hostPort: string, timeoutMs = 500): Promise<boolean> {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at);
  const port = Number(hostPort.slice(at + 1));
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when a ClickHouse server answers `GET /ping` with `Ok.` at `url` within `timeoutMs`. */
export async function clickhouseAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  try {
    const res = await fetch(new URL('/ping', url), { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok && (await res.text()).startsWith('Ok');
  } catch {
    return false;
  }
}
