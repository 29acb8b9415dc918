import { defineConfig } from 'vitest/config';

if (!process.env.TEST_DATABASE_URL) {
  // Said before vitest starts looking for files, so this is the only message.
  console.error(
    '\nThe reliability suite runs on PostgreSQL only. Set TEST_DATABASE_URL, e.g.\n' +
      '  TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run test:reliability\n',
  );
  process.exit(1);
}

/**
 * `npm run test:reliability`: the fault, crash, attacker and bad-input suite (issue 13), on PostgreSQL
 * only (TEST_DATABASE_URL). The global setup migrates one template database, and at the end prints the
 * summary and scans every log the suite captured for secrets.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/reliability/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    // A run compares whole databases; a retry would hide a flaky convergence bug.
    retry: 0,
  },
});
