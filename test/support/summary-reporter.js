// Ends the run with the plain line `N passed, N failed[, N skipped]` that CI reads.
class SummaryReporter {
  onRunComplete(_testContexts, results) {
    // A file that failed to load has no failed test but must still count as a failure.
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
    // Jest runs its own summary reporter after custom ones and global teardown after all
    // reporters, so only process exit is sure to come last (stdout writes are synchronous then).
    process.once('exit', () => process.stdout.write(`${line}\n`));
  }
}

module.exports = SummaryReporter;
