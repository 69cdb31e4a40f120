/**
 * The top frames of a V8 CPU profile (`node --cpu-prof`) by self time, and by total time for the
 * project's own functions: `node --import tsx bench/lib/profile-top.ts FILE.cpuprofile [--top 20]`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  frame: string;
  self_pct: number;
  total_pct: number;
}

const label = (n: ProfileNode) => {
  const url = n.callFrame.url.replace(/^.*\/(wt-[^/]+|runwarden)\//, '').replace(/^file:\/\//, '');
  return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
};

/** Self and total share of the samples per frame label (a recursive frame counts once per sample). */
export function topFrames(profile: Profile, top: number): { by_self: Frame[]; by_total_src: Frame[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    let id: number | undefined = profile.samples[i] as number;
    const node = byId.get(id) as ProfileNode;
    if (node.callFrame.functionName === '(idle)') continue;
    all += dt;
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const seen = new Set<string>();
    for (; id !== undefined; id = parent.get(id)) {
      const l = label(byId.get(id) as ProfileNode);
      if (!seen.has(l)) total.set(l, (total.get(l) ?? 0) + dt);
      seen.add(l);
    }
  }
  const pct = (x: number) => Number(((100 * x) / all).toFixed(1));
  const rows = (m: Map<string, number>, filter: (l: string) => boolean) =>
    [...m.entries()]
      .filter(([l]) => filter(l))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame]) => ({ frame, self_pct: pct(self.get(frame) ?? 0), total_pct: pct(total.get(frame) ?? 0) }));
  return { by_self: rows(self, () => true), by_total_src: rows(total, (l) => /(src|detectors|consumers)\//.test(l)) };
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '20' } }, allowPositionals: true });
for (const file of positionals) {
  const t = topFrames(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.top));
  process.stdout.write(`${file}\nby self time:\n`);
  for (const f of t.by_self) process.stdout.write(`  ${String(f.self_pct).padStart(5)} % self ${String(f.total_pct).padStart(5)} % total  ${f.frame}\n`);
  process.stdout.write('project frames by total time:\n');
  for (const f of t.by_total_src) process.stdout.write(`  ${String(f.total_pct).padStart(5)} % total ${String(f.self_pct).padStart(5)} % self  ${f.frame}\n`);
}
