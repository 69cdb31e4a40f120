import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedStore } from '../../src/store/embedded-store.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { clickhouseUrl, uniqueName } from './services.ts';

export interface OpenedStore {
  store: Store;
  /** Drops the database (server) or the data folder (embedded), and closes the store. */
  dispose(): Promise<void>;
}

/**
 * The two Store adapters, each on a fresh database named `<prefix>_<hex>`: the ClickHouse server
 * (18.16 in CI) gets a unique database per test; chdb (26.x, in process) a fresh temporary data
 * folder per test. libchdb holds one data folder per process, so each embedded store is closed
 * before the next one opens. For `describe.each(storeEngines(prefix))`.
 */
export function storeEngines(prefix: string): Array<{ name: string; open(): Promise<OpenedStore> }> {
  return [
    {
      name: 'server',
      async open() {
        const store = await createServerStore({ url: clickhouseUrl(), database: uniqueName(prefix) });
        return {
          store,
          async dispose() {
            await store.exec(`DROP DATABASE IF EXISTS ${store.database}`);
            await store.close();
          },
        };
      },
    },
    {
      name: 'embedded',
      async open() {
        const dir = await mkdtemp(join(tmpdir(), `${prefix.replace(/_/g, '-')}-`));
        const store = await createEmbeddedStore({ path: dir, database: uniqueName(prefix) });
        return {
          store,
          async dispose() {
            await store.close();
            await rm(dir, { recursive: true, force: true });
          },
        };
      },
    },
  ];
}
