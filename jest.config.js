// Three projects: pure unit tests, Pulumi program tests (runtime mocks, since no
// engine or GCP exists here) and lab tests against the real MySQL test host.
const tsJest = { '^.+\\.ts$': ['ts-jest', {}] };

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: tsJest,
      testMatch: ['<rootDir>/tests/unit/**/*.test.ts'],
    },
    {
      displayName: 'pulumi',
      testEnvironment: 'node',
      transform: tsJest,
      testMatch: ['<rootDir>/tests/pulumi/**/*.test.ts'],
    },
    {
      displayName: 'lab',
      testEnvironment: 'node',
      transform: tsJest,
      testMatch: ['<rootDir>/tests/lab/**/*.test.ts'],
      globalSetup: '<rootDir>/tests/lab/globalSetup.ts',
      globalTeardown: '<rootDir>/tests/lab/globalTeardown.ts',
      setupFilesAfterEnv: ['<rootDir>/tests/lab/support/timeout.ts'],
    },
  ],
};
