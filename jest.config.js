/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // test/cluster runs against the real Temporal server: `npm run test:cluster` (jest.cluster.config.js).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/'],
  // Transpile only (no type check per file): `npm test` runs tsc over everything once anyway.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true } }] },
  // 2 cores and one shared Docker engine: one test file at a time.
  maxWorkers: 1,
  // A memory limit makes jest use a worker process even with one worker, so a test that leaks a
  // handle cannot keep the main process (which owns PostgreSQL and Temporal) from exiting.
  workerIdleMemoryLimit: '1GB',
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 180000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
