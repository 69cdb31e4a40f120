import type { Finding } from '../../src/contracts/finding.ts';

/** What every detector returns: its next state and what it saw (often nothing). */
export interface DetectorResult<S> {
  state: S;
  findings: Finding[];
}
