import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreparingClient, statementName } from './preparing-client';

const url = process.env.TEST_DATABASE_URL;

describe.skipIf(!url)('PreparingClient (PostgreSQL)', () => {
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 1, Client: PreparingClient });
  });
  afterAll(() => pool.end());

  const prepared = async (c: pg.PoolClient) =>
    (await c.query<{ name: string }>('select name from pg_prepared_statements order by name')).rows.map(
      (r) => r.name,
    );

  it('prepares a parameterised statement once per connection and reuses it with other values', async () => {
    const c = await pool.connect();
    try {
      const text = 'select $1::int + 1 as n';
      expect((await c.query(text, [1])).rows[0].n).toBe(2);
      expect((await c.query({ text, values: [41] })).rows[0].n).toBe(42);
      expect(await prepared(c)).toEqual([statementName(text)]);
    } finally {
      c.release();
    }
  });

  it('leaves statements without parameters, and ones named by the caller, alone', async () => {
    const c = await pool.connect();
    try {
      await c.query('select 1');
      await c.query({ name: 'callers_own', text: 'select $1::text as t', values: ['x'] });
      const names = await prepared(c);
      expect(names).toContain('callers_own');
      expect(names.filter((n) => n.startsWith('pw_'))).toHaveLength(1);
    } finally {
      c.release();
    }
  });

  it('keeps working inside a transaction that rolls back, and after a failing statement', async () => {
    const c = await pool.connect();
    try {
      await c.query('begin');
      await expect(c.query('select $1::int / 0 as n', [1])).rejects.toThrow(/division by zero/);
      await c.query('rollback');
      expect((await c.query('select $1::int / 1 as n', [7])).rows[0].n).toBe(7);
      expect((await c.query('select $1::int + 1 as n', [2])).rows[0].n).toBe(3);
    } finally {
      c.release();
    }
  });

  it('past its cap, a connection runs new texts unnamed and keeps using the ones it prepared', async () => {
    class CappedClient extends PreparingClient {
      protected override readonly maxPrepared = 2;
    }
    const capped = new pg.Pool({ connectionString: url, max: 1, Client: CappedClient });
    const c = await capped.connect();
    try {
      for (let i = 1; i <= 4; i++)
        expect((await c.query(`select $1::int + ${i} as n`, [1])).rows[0].n).toBe(1 + i);
      expect((await c.query('select $1::int + 1 as n', [5])).rows[0].n).toBe(6);
      expect((await prepared(c)).filter((n) => n.startsWith('pw_'))).toEqual(
        ['select $1::int + 1 as n', 'select $1::int + 2 as n'].map(statementName).sort(),
      );
    } finally {
      c.release();
      await capped.end();
    }
  });
});
