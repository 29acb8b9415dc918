import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { paywire, useCliEnvironment } from '../../test/cli-kit';
import { loadConfig } from '../config';
import { queryRows } from '../db/client';
import { systemClock } from '../lib/clock';
import { getBalance } from '../modules/credits/credits.queries';
import { createUser } from '../modules/users/users.service';
import { openConfiguredDatabase } from '../server';
import { withDatabase } from './context';

// `paywire credits grant` as a user runs it: configuration from the environment (PGlite in a temporary
// data directory, or a fresh PostgreSQL database when TEST_DATABASE_URL is set).
useCliEnvironment('credits-cli');

it('grants credits by email, once per idempotency key, and refuses bad input', {
  timeout: 120_000,
}, async () => {
  await withDatabase((database) =>
    createUser(database.db, { email: 'cli@example.com', password: 'long enough pw' }),
  );
  const grant = ['credits', 'grant', '--user', 'cli@example.com', '--type', 'ai_tokens', '--amount', '25'];
  const out = await paywire(...grant, '--reason', 'launch promo', '--idempotency-key', 'promo-1');
  expect(out).toMatch(/Granted 25 ai_tokens to cli@example.com .*Available now: 25/);
  expect(await paywire(...grant, '--reason', 'launch promo', '--idempotency-key', 'promo-1')).toMatch(
    /Already granted/,
  );
  await expect(paywire(...grant.slice(0, -1), '0', '--reason', 'x')).rejects.toThrow(/amount/);
  await expect(paywire(...grant, '--reason', 'x', '--type', 'gold')).rejects.toThrow(/credit type/i);
  await expect(paywire(...grant, '--reason', 'x', '--expires-at', '2001-01-01')).rejects.toThrow(/future/);

  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  try {
    const [user] = await queryRows<{ id: string }>(
      database.db,
      sql`select id from users where email = 'cli@example.com'`,
    );
    const balance = await getBalance(
      { ...database, database, clock: systemClock, config },
      user!.id,
      'ai_tokens',
    );
    expect(balance.available).toBe(25);
  } finally {
    await database.close();
  }
});
