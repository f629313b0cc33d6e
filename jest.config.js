// Two projects: "unit" needs nothing but Node; "e2e" drives real dockerd, iptables and clamd
// and runs serially (one Docker engine, one set of host resources).
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }] },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  // The services' shared logger from its source, so that tests never run a stale build of it.
  moduleNameMapper: { '^@clawjail/log$': '<rootDir>/lib/log/src/index.ts' },
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/**/*.test.ts'], testPathIgnorePatterns: [...common.testPathIgnorePatterns, '\\.e2e\\.test\\.ts$', '\\.int\\.test\\.ts$'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/**/*.int.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/**/*.e2e.test.ts'] },
  ],
};
