// Ends the run with the plain line `N passed, N failed[, N skipped]` that CI reads. With
// JEST_SUMMARY_FILE set (scripts/test.sh, which runs jest twice: the suite and test:cluster), the
// counts go to that file as JSON instead, and the script prints the line for both runs.
const fs = require('node:fs');

class SummaryReporter {
  onRunComplete(_testContexts, results) {
    // A file that failed to load has no failed test but must still count as a failure.
    const counts = {
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    if (process.env.JEST_SUMMARY_FILE) {
      fs.writeFileSync(process.env.JEST_SUMMARY_FILE, JSON.stringify(counts));
      return;
    }
    // Jest runs its own summary reporter after custom ones and global teardown after all
    // reporters, so only process exit is sure to come last (stdout writes are synchronous then).
    process.once('exit', () => process.stdout.write(`${summaryLine(counts)}\n`));
  }
}

function summaryLine({ passed, failed, skipped }) {
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}

module.exports = SummaryReporter;

// `node test/support/summary-reporter.js <file>…`: the line for several runs' JEST_SUMMARY_FILEs;
// a run that died before its reporter wrote one counts as one failure.
if (require.main === module) {
  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const file of process.argv.slice(2)) {
    const counts = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { passed: 0, failed: 1, skipped: 0 };
    for (const key of Object.keys(total)) total[key] += counts[key];
  }
  console.log(summaryLine(total));
}
