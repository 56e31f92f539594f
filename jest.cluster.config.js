/**
 * `npm run test:cluster`: the tests under test/cluster, against the real Temporal server with
 * PostgreSQL persistence (test/cluster/global-setup.ts) instead of the dev server.
 * @type {import('jest').Config}
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/test/cluster/global-setup.ts',
  testTimeout: 600000,
};
