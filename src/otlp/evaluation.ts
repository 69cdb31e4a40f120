import type { JudgeScore } from '../contracts/span.ts';
import { attrNumber, attrText, firstOf, type Attrs } from './attributes.ts';
import { GEN_AI } from './gen-ai.ts';

/** Labels that mean the evaluated output passed (score 1) or failed (score 0), when no score value is given. */
const PASS_LABELS = new Set(['pass', 'passed', 'correct', 'relevant', 'true', 'yes', 'good', 'thumbs_up']);
const FAIL_LABELS = new Set(['fail', 'failed', 'incorrect', 'not_relevant', 'irrelevant', 'false', 'no', 'bad', 'thumbs_down']);

export type EvaluationResult =
  | { ok: true; judge: JudgeScore }
  | { ok: false; reason: 'evaluation_without_score' | 'score_out_of_range' };

/**
 * A `gen_ai.evaluation.*` result as a SPEC §1 judge score (0..1): `gen_ai.evaluation.score.value`
 * when it lies in 0..1; without a value, a pass/fail `gen_ai.evaluation.score.label` as 1/0.
 * A value on another scale (say 1–5) is refused rather than guessed at: judge drift compares
 * scores across cohorts, and a rescaled guess would mix scales. `gen_ai.evaluation.name` is the rubric.
 */
export function evaluationScore(attrs: Attrs): EvaluationResult {
  const value = firstOf(attrs, GEN_AI.evaluationScore, attrNumber);
  const label = firstOf(attrs, GEN_AI.evaluationLabel, attrText)?.toLowerCase();
  let score: number | undefined;
  if (value !== undefined) {
    if (value < 0 || value > 1) return { ok: false, reason: 'score_out_of_range' };
    score = value;
  } else if (label !== undefined && PASS_LABELS.has(label)) score = 1;
  else if (label !== undefined && FAIL_LABELS.has(label)) score = 0;
  if (score === undefined) return { ok: false, reason: 'evaluation_without_score' };
  const rubric = firstOf(attrs, GEN_AI.evaluationName, attrText);
  return { ok: true, judge: rubric === undefined ? { score } : { score, rubric: rubric.slice(0, 128) } };
}
