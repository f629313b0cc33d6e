// Adds up jest's --json reports into the one line CI reads: "N passed, N failed".
// A suite that failed to run at all (syntax error, failed beforeAll) counts as a failure too.
const fs = require('fs');
let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`summary: no report in ${file}: ${e.message}`);
    failed += 1;
    continue;
  }
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  for (const suite of report.testResults) {
    if (suite.status === 'failed' && suite.assertionResults.every((a) => a.status !== 'failed')) {
      console.error(`summary: suite failed to run: ${suite.name}\n${(suite.message || '').slice(0, 2000)}`);
      failed += 1;
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
