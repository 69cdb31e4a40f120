import { createEmbeddedStore } from './embedded-store.ts';
import { createServerStore } from './server-store.ts';
import type { Store } from './store.ts';

export interface OpenStoreOptions {
  /** ClickHouse HTTP URL. Given: the server store; absent or empty: the embedded (chdb) store. */
  url?: string;
  username?: string;
  password?: string;
  /** Embedded data folder; absent: a temporary folder removed on close. */
  path?: string;
  database: string;
  /** Deadline per request (ms). */
  requestTimeoutMs?: number;
}

/** Opens the ClickHouse server when a URL is configured, the embedded chdb store otherwise. */
export function openStore(options: OpenStoreOptions): Promise<Store> {
  const timeout = options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {};
  if (options.url !== undefined && options.url !== '') {
    return createServerStore({
      url: options.url,
      database: options.database,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...timeout,
    });
  }
  return createEmbeddedStore({ database: options.database, ...(options.path !== undefined ? { path: options.path } : {}), ...timeout });
}
