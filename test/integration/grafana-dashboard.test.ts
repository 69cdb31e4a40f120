import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { migrate } from '../../src/store/migrate.ts';
import type { Store } from '../../src/store/store.ts';
import { expandMacros, loadDashboard } from '../support/grafana-dashboard.ts';
import { storeEngines } from '../support/store-engines.ts';
import { DAY, seedCommandRows, seedDlqRows, seedFindingRows, seedSpanRows, T0 } from '../support/store-seed.ts';

const dashboard = loadDashboard();
const anyRow = z.record(z.string(), z.unknown());
const panels = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, type: p.type, sql: t.rawSql })));

/**
 * The checked-in Grafana dashboard is not untested: every panel's SQL, with the plugin's macros
 * expanded for a time range, runs on the tables `runwarden migrate` creates (ClickHouse 18.16 and
 * chdb) over the store seed, and returns rows; outside the seed's time it returns none.
 */
describe.each(storeEngines('rw_grafana'))('Grafana dashboard SQL ($name)', ({ open }) => {
  let store: Store;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ store, dispose } = await open());
    await migrate(store);
    await store.insert('spans', seedSpanRows());
    await store.insert('findings', seedFindingRows());
    await store.insert('control_commands', seedCommandRows());
    await store.insert('dlq_events', seedDlqRows());
  });

  afterAll(async () => {
    await dispose();
  });

  it.each(panels)('$title', async ({ type, sql }) => {
    const rows = await store.query(expandMacros(sql, T0 - 3_600_000, T0 + 2 * DAY), anyRow);
    expect(rows.length).toBeGreaterThan(0);
    // A time series needs its time column and one numeric value per row.
    if (type === 'timeseries') for (const row of rows) expect(Object.keys(row)[0]).toBe('time');
    const before = await store.query(expandMacros(sql, T0 - 30 * DAY, T0 - 29 * DAY), anyRow);
    expect(before).toEqual([]);
  });
});
