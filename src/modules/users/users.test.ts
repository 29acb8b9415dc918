import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { type Database, queryRows } from '../../db/client';
import { migrate } from '../../db/migrate';
import { createTestDatabase, PASSWORD } from '../../../test/harness';
import { createUser, findUserByEmail } from './users.service';

let database: Database;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

describe('users', () => {
  it('bootstrap makes an admin only while no admin exists', async () => {
    const first = await createUser(database.db, {
      email: 'first@example.com',
      password: PASSWORD,
      role: 'bootstrap',
    });
    expect(first.role).toBe('admin');
    const second = await createUser(database.db, {
      email: 'second@example.com',
      password: PASSWORD,
      role: 'bootstrap',
    });
    expect(second.role).toBe('user');
  });

  it('finds users by email in any case', async () => {
    await createUser(database.db, { email: 'MixedCase@Example.com', password: PASSWORD });
    expect((await findUserByEmail(database.db, 'mixedcase@EXAMPLE.com'))?.email).toBe(
      'mixedcase@example.com',
    );
  });

  it('migrating an already migrated database is a no-op', async () => {
    const count = async () =>
      (
        await queryRows<{ n: number }>(
          database.db,
          sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
        )
      )[0]!.n;
    const before = await count();
    await migrate(database);
    await migrate(database);
    expect(await count()).toBe(before);
    expect(await findUserByEmail(database.db, 'first@example.com')).toBeTruthy();
  });
});
