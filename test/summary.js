// Adds up jest's --json reports into the one line CI reads: "N passed, N failed".
// A suite that failed to run at all (syntax error, failed beforeAll) counts as a failure too.
// Before that line, a short digest of each failure (its error lines), so that the tail of a CI
// log says why, not only how many: jest's own diff of a long output elides its middle.
const fs = require('fs');

const ANSI = /\u001b\[[0-9;]*m/g;
const INTERESTING = /error|fail|refused|denied|timed? ?out|not healthy|cannot|unable|exit code|\bcode\b|Expected|Received/i;

/** At most `max` lines of a failure message: the first line, then the lines that name an error. */
function digest(message, max = 12) {
  const lines = String(message).replace(ANSI, '').split('\n').map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
  const picked = [];
  const seen = new Set();
  for (const [i, l] of lines.entries()) {
    if (/^\s+at /.test(l) || /node_modules\//.test(l)) continue;
    if (i !== 0 && !INTERESTING.test(l)) continue;
    const short = l.length > 240 ? `${l.slice(0, 240)}…` : l;
    if (seen.has(short.trim())) continue;
    seen.add(short.trim());
    picked.push(`    ${short.trim()}`);
    if (picked.length >= max) break;
  }
  return picked.join('\n');
}

let passed = 0;
let failed = 0;
const digests = [];
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
    const rel = suite.name.replace(`${process.cwd()}/`, '');
    if (suite.status === 'failed' && suite.assertionResults.every((a) => a.status !== 'failed')) {
      console.error(`summary: suite failed to run: ${suite.name}\n${(suite.message || '').slice(0, 2000)}`);
      failed += 1;
    }
    for (const a of suite.assertionResults) {
      if (a.status === 'failed') digests.push(`  ${rel} › ${a.fullName}\n${digest((a.failureMessages || []).join('\n'))}`);
    }
  }
}
if (digests.length) {
  // The first failures are the likeliest cause of the rest: they come first, and the digest stays short.
  console.log(`failures (${digests.length}), their error lines:`);
  console.log(digests.slice(0, 6).join('\n'));
  if (digests.length > 6) console.log(`  … and ${digests.length - 6} more (test-output/*.json)`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
