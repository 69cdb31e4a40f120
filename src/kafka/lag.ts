import type { Admin } from 'kafkajs';

/** Total messages of `topic` not yet committed by `groupId` (sum over partitions). */
export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const done = new Map<number, bigint>();
  for (const t of committed) for (const p of t.partitions) done.set(p.partition, BigInt(p.offset));
  let lag = 0n;
  for (const p of ends) {
    const end = BigInt(p.high);
    const at = done.get(p.partition) ?? -1n;
    lag += at < 0n ? end - BigInt(p.low) : end - at;
  }
  return Number(lag);
}

/** Waits until the group has committed everything in the topic; throws after `timeoutMs`. */
export async function waitForCatchUp(admin: Admin, groupId: string, topic: string, timeoutMs = 60_000, pollMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lag = await consumerLag(admin, groupId, topic);
    if (lag === 0) return;
    if (Date.now() > deadline) throw new Error(`consumer group ${groupId} still ${lag} messages behind on ${topic} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
