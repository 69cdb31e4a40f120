import { createCohortStage } from './src/engine/cohort-stage.ts';
import { createPerRunStage } from './src/engine/per-run-stage.ts';
import { DEFAULT_POLICY } from './src/policy/policy.ts';
import { chaosStream } from './test/support/chaos-stream.ts';
import { spanEventSchema } from './src/contracts/span.ts';
import type { CohortPartial } from './src/windows/cohort-partial.ts';

const keyRing = { activeKeyId: 'k1', keys: { k1: 'x'.repeat(32) } };
const events = chaosStream(900, 4242);
const perRun = createPerRunStage({ policy: DEFAULT_POLICY, keyRing, partials: true });
const partials: CohortPartial[] = [];
for (const e of events) {
  const ev = spanEventSchema.parse(e);
  perRun.apply(ev);
  // coarse, like a pipeline commit point every 20 events
  if (partials.length % 7 === 0 || Math.random() < 0.05) partials.push(...perRun.drainPartials());
}
partials.push(...perRun.drainPartials());
console.log('partials', partials.length);
const run = (cuts: Set<number>) => {
  let stage = createCohortStage({ policy: DEFAULT_POLICY, keyRing });
  const out: string[] = [];
  partials.forEach((p, i) => {
    if (cuts.has(i)) {
      const snap = JSON.parse(JSON.stringify(stage.snapshot()));
      stage = createCohortStage({ policy: DEFAULT_POLICY, keyRing });
      stage.restore(snap);
    }
    for (const e of stage.apply(p)) out.push(JSON.stringify(e.finding));
  });
  return out;
};
const ref = run(new Set());
let bad = 0;
for (let t = 0; t < 30; t++) {
  const cuts = new Set<number>();
  for (let k = 0; k < 20; k++) cuts.add(Math.floor(Math.random() * partials.length));
  const got = run(cuts);
  if (JSON.stringify(got) !== JSON.stringify(ref)) {
    bad++;
    const i = got.findIndex((g, j) => g !== ref[j]);
    console.log('DIFF at', i, '\n ref', ref[i]?.slice(0, 300), '\n got', got[i]?.slice(0, 300));
    break;
  }
}
console.log('findings', ref.length, 'bad trials', bad);
