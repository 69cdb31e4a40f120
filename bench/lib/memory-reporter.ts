/**
 * Preloaded into a process the benchmarks fork (`node --import tsx --import
 * ./bench/lib/memory-reporter.ts bin/runwarden.js start …`): sends its memory every
 * RUNWARDEN_BENCH_MEMORY_MS (default 5,000 ms) over the IPC channel, so that a benchmark sees the
 * heap, not only the RSS, of an unmodified `runwarden start`. Does nothing without an IPC channel.
 */
if (process.send) {
  const everyMs = Number(process.env.RUNWARDEN_BENCH_MEMORY_MS ?? 5_000);
  const send = () => {
    const m = process.memoryUsage();
    process.send?.({ type: 'memory', atMs: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers });
  };
  setInterval(send, everyMs).unref();
  // The channel must not keep the process alive past its own shutdown.
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
  send();
}
