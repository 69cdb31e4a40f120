/** An error that says whether trying again can help. Retry code reads the flag, never the text. */
export interface MaybeRetriable {
  retriable?: boolean;
}

export interface RetryOptions {
  /** Attempts after the first; Infinity retries until `signal` aborts. */
  retries: number;
  /** First backoff (ms); doubles each attempt up to maxDelayMs, with ±20 % jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Default: the error's own `retriable` flag. */
  isRetriable?: (err: unknown) => boolean;
}

/** Runs `fn`, retrying retriable failures with exponential backoff. */
export async function retry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 5_000;
  const isRetriable = options.isRetriable ?? ((e: unknown) => (e as MaybeRetriable | null)?.retriable === true);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= options.retries || !isRetriable(err) || options.signal?.aborted) throw err;
      const delay = Math.min(max, base * 2 ** attempt) * (0.8 + Math.random() * 0.4);
      options.onRetry?.(err, attempt + 1, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
