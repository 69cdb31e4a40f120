import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.ts';
import type { ReadinessReport } from './readiness.ts';

export interface MetricsServerOptions {
  /** Interface to bind (default 127.0.0.1: metrics stay local unless asked otherwise). */
  host?: string;
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  /** The Prometheus exposition and its content type. */
  render(): Promise<string>;
  contentType: string;
  ready(): Promise<ReadinessReport>;
  logger: Logger;
}

export interface MetricsServer {
  /** Listens; resolves with the bound address. */
  start(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

/**
 * The operator's HTTP endpoints: `GET /metrics` (Prometheus text), `GET /healthz` (200 while the
 * process serves requests) and `GET /readyz` (200 when every consumer joined its group and
 * ClickHouse answers, else 503; JSON with the reason either way).
 */
export function createMetricsServer(options: MetricsServerOptions): MetricsServer {
  const log = options.logger.child({ component: 'metrics-server' });
  const startedAtMs = Date.now();
  let server: Server | undefined;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'application/json', json({ error: 'use GET' }));
    switch (path) {
      case '/metrics':
        return send(res, 200, options.contentType, await options.render());
      case '/healthz':
        return send(res, 200, 'application/json', json({ status: 'ok', uptime_s: Math.round((Date.now() - startedAtMs) / 1_000) }));
      case '/readyz': {
        const report = await options.ready();
        return send(res, report.ready ? 200 : 503, 'application/json', json(report));
      }
      default:
        return send(res, 404, 'application/json', json({ error: `no such endpoint ${path}; try /metrics, /healthz or /readyz` }));
    }
  }

  return {
    start() {
      return new Promise((resolve, reject) => {
        const s = createServer((req, res) => {
          route(req, res).catch((err: unknown) => {
            log.error({ err, url: req.url }, 'metrics endpoint failed');
            if (!res.headersSent) send(res, 500, 'application/json', json({ error: (err as Error).message }));
            else res.destroy();
          });
        });
        s.once('error', reject);
        s.listen(options.port, options.host ?? '127.0.0.1', () => {
          s.off('error', reject);
          server = s;
          const address = s.address() as AddressInfo;
          resolve({ host: address.address, port: address.port });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

const json = (value: unknown) => `${JSON.stringify(value)}\n`;

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}
