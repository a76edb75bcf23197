/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Sucrase strips the types and turns imports into require calls, file by file (the type check is
  // `npm run typecheck`): several times faster than a TypeScript transpile, which counts on a cold cache (CI).
  // openid-client 6 and its dependencies ship ESM only: their imports become require calls too.
  transform: {
    '^.+\\.ts$': '@sucrase/jest-plugin',
    '^.+/node_modules/(openid-client|oauth4webapi|jose)/.+\\.js$': '@sucrase/jest-plugin',
  },
  transformIgnorePatterns: ['/node_modules/(?!(openid-client|oauth4webapi|jose)/)'],
  // The generated 7.5 MB validator is loaded once per worker, not once per test file (test/helpers/shared/).
  moduleNameMapper: { '/generated/r4-validator\\.js$': '<rootDir>/test/helpers/shared/r4-validator.js' },
  // Property and fuzz tests take seconds on a quiet machine and several times that on a loaded one; a test that
  // waits on something waits for an event, so this bound only ends a test that hangs.
  testTimeout: 180000,
  maxWorkers: 2,
  // Child processes started by tests never outlive the run (test/helpers/child-processes.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  setupFilesAfterEnv: ['<rootDir>/test/setup-after-env.ts'],
};
