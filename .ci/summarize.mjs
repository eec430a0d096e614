// Prints the final `N passed, N failed` line from vitest's JSON report and exits with the test
// command's status (a failed build, type check or lint counts as one failure even without tests).
import { readFileSync } from 'node:fs';

const [file, statusText] = process.argv.slice(2);
const status = Number(statusText);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed = r.numPassedTests ?? 0;
  failed = r.numFailedTests ?? 0;
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A suite that failed to load has no failed tests of its own: count the suite.
  if (r.numFailedTestSuites && !failed) failed = r.numFailedTestSuites;
} catch {
  // No report: the build, type check or lint failed before vitest ran.
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status === 0 ? 0 : 1);
