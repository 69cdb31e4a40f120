// Prints the plain closing line `tests: N passed, N failed` from vitest's JSON report, and fails
// when no test ran at all (a suite that runs nothing must not look green).
import { readFileSync } from 'node:fs';

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`[test] no test report at ${file}: ${err.message}`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const brokenFiles = report.numFailedTestSuites ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
if (brokenFiles > 0) console.error(`[test] ${brokenFiles} test file(s) failed to run`);
if (passed === 0 || failed > 0 || brokenFiles > 0 || report.success === false) process.exit(1);
