/**
 * Typed store errors. Each carries the decision: `retriable` says whether the same call can
 * succeed later (connection refused, timeout, server overloaded) or never will (syntax error,
 * unknown table, a row that does not match its schema). Retry code reads the flag, never the text.
 */
export class StoreError extends Error {
  readonly retriable: boolean;
  /** The ClickHouse exception code (e.g. 62 for a syntax error), when the server sent one. */
  readonly clickhouseCode: number | undefined;

  constructor(message: string, options: { retriable: boolean; cause?: unknown; clickhouseCode?: number }) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable;
    this.clickhouseCode = options.clickhouseCode;
  }
}

/** The server or the embedded engine could not be reached: refused, reset, DNS, engine busy. */
export class StoreConnectionError extends StoreError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: true, cause });
  }
}

/** A request took longer than its deadline (ms). */
export class StoreTimeoutError extends StoreError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: true, cause });
  }
}

/** ClickHouse rejected the statement; retriable only for codes that mean "not now". */
export class StoreQueryError extends StoreError {
  constructor(message: string, clickhouseCode: number | undefined, cause?: unknown) {
    super(message, {
      retriable: clickhouseCode !== undefined && RETRIABLE_CLICKHOUSE_CODES.has(clickhouseCode),
      cause,
      ...(clickhouseCode !== undefined ? { clickhouseCode } : {}),
    });
  }
}

/** A result row did not match the caller's zod schema: a bug in the query or the schema. */
export class StoreRowError extends StoreError {
  readonly rowIndex: number;
  readonly row: unknown;

  constructor(rowIndex: number, row: unknown, issues: string, cause?: unknown) {
    super(`row ${rowIndex} does not match its schema: ${issues}; row: ${preview(row)}`, { retriable: false, cause });
    this.rowIndex = rowIndex;
    this.row = row;
  }
}

/** The store was used after close(). */
export class StoreClosedError extends StoreError {
  constructor() {
    super('the store is closed', { retriable: false });
  }
}

/**
 * ClickHouse exception codes worth retrying: the same statement can succeed once the server
 * catches up. Names from ClickHouse's ErrorCodes.cpp.
 */
export const RETRIABLE_CLICKHOUSE_CODES: ReadonlySet<number> = new Set([
  159, // TIMEOUT_EXCEEDED
  160, // TOO_SLOW
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  236, // ABORTED
  241, // MEMORY_LIMIT_EXCEEDED (another query may be holding the memory)
  242, // TABLE_IS_READ_ONLY (replica lost its ZooKeeper session)
  252, // TOO_MANY_PARTS (merges will catch up)
  285, // TOO_FEW_LIVE_REPLICAS
  319, // UNKNOWN_STATUS_OF_INSERT
  425, // SYSTEM_ERROR
  999, // KEEPER_EXCEPTION
]);

function preview(row: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(row) ?? String(row);
  } catch {
    text = String(row);
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/**
 * ClickHouse exception codes that refuse the statement whatever rows it carries: credentials,
 * grants, a missing table or database, a read-only user. Isolating "bad rows" would blame every
 * row for them, so writers wait for an operator instead (retry with backoff, loudly).
 */
export const STATEMENT_CLICKHOUSE_CODES: ReadonlySet<number> = new Set([
  60, // UNKNOWN_TABLE
  81, // UNKNOWN_DATABASE
  164, // READONLY
  192, // UNKNOWN_USER
  193, // WRONG_PASSWORD
  194, // REQUIRED_PASSWORD
  195, // IP_ADDRESS_NOT_ALLOWED
  497, // ACCESS_DENIED
  516, // AUTHENTICATION_FAILED
]);

/** True when `err` is a StoreError that refuses the statement itself rather than some of its rows. */
export function refusesStatement(err: unknown): boolean {
  return err instanceof StoreError && err.clickhouseCode !== undefined && STATEMENT_CLICKHOUSE_CODES.has(err.clickhouseCode);
}
