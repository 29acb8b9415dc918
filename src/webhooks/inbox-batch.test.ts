import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, isPostgres } from '../../test/harness';
import type { Database } from '../db/client';
import { InboxBatcher, type InboxRow, inboxInsert } from './inbox-batch';

// The batcher is the PostgreSQL path of recordEvent (PGlite has one connection and writes row by row).
describe.runIf(isPostgres())('inbox batcher (group commit of inbox rows)', () => {
  let database: Database;
  let batcher: InboxBatcher;
  let seq = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    batcher = new InboxBatcher(database.pool!);
  });
  afterAll(() => database.close());

  const row = (over: Partial<InboxRow> = {}): InboxRow => ({
    id: `evt_batch_${seq++}`,
    type: 'charge.succeeded',
    apiVersion: '2025-01-01',
    livemode: false,
    created: new Date(1_700_000_000_000).toISOString(),
    receivedAt: new Date().toISOString(),
    payload: '{"object":"event"}',
    ignored: false,
    settle: null,
    ...over,
  });

  const stored = async (id: string) =>
    (
      await database.pool!.query<{ handled: boolean; ignored: boolean; attempts: number; payload: unknown }>(
        'select handled_at is not null as handled, ignored, attempts, payload from stripe_events where id = $1',
        [id],
      )
    ).rows[0];

  it('writes concurrent deliveries together and tells each whether its own row was new', async () => {
    const existing = row();
    await batcher.insert(existing, true);
    const fresh = [row(), row({ ignored: true }), row()];
    const answers = await Promise.all([
      ...fresh.map((r, i) => batcher.insert(r, i === 1)),
      batcher.insert({ ...existing, receivedAt: new Date().toISOString() }, false),
    ]);
    expect(answers).toEqual(['new', 'new', 'new', 'copy']);
    expect(await stored(fresh[0]!.id)).toMatchObject({ handled: false, ignored: false, attempts: 0 });
    // A type without a handler goes in already handled, as ignored.
    expect(await stored(fresh[1]!.id)).toMatchObject({ handled: true, ignored: true, attempts: 1 });
    expect((await stored(fresh[2]!.id))?.payload).toEqual({ object: 'event' });
  });

  it('gives the first copy of an event in one batch the row, the other copies false', async () => {
    const r = row();
    const answers = await Promise.all([
      batcher.insert(r, false),
      batcher.insert(r, true),
      batcher.insert(r, false),
    ]);
    expect(answers).toEqual(['new', 'copy', 'copy']);
    expect(await stored(r.id)).toBeDefined();
  });

  it('fails only the delivery whose row the database refuses', async () => {
    const good = [row(), row()];
    // jsonb refuses a NUL character escape that JSON.parse accepts.
    const bad = row({ payload: '{"text":"\\u0000"}' });
    const results = await Promise.allSettled([
      batcher.insert(good[0]!, false),
      batcher.insert(bad, false),
      batcher.insert(good[1]!, true),
      batcher.insert(bad, false),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect(results[0]).toMatchObject({ value: 'new' });
    expect(results[2]).toMatchObject({ value: 'new' });
    expect(await stored(good[0]!.id)).toBeDefined();
    expect(await stored(good[1]!.id)).toBeDefined();
    expect(await stored(bad.id)).toBeUndefined();
  });

  it('waits for the flush only when a row goes in handled, unless asked to always wait', async () => {
    // The statement's commit mode is local to its transaction: run it in one and read the setting back.
    const commitMode = async (rows: InboxRow[], durable: boolean) => {
      const client = await database.pool!.connect();
      try {
        await client.query('begin');
        const { text, values } = inboxInsert(rows, durable);
        const inserted = await client.query(text, values);
        const mode = (await client.query('show synchronous_commit')).rows[0].synchronous_commit;
        return { mode, inserted: inserted.rowCount };
      } finally {
        await client.query('rollback');
        client.release();
      }
    };
    const missing = { check: 'checkout_fulfilled', key: 'cs_no_such_session' } as const;
    // Rows left for their handler (one with a settle check that does not hold): not flushed on their own.
    expect(await commitMode([row(), row({ settle: missing })], false)).toEqual({ mode: 'off', inserted: 2 });
    // A row that goes in handled (here ignored; a settled one likewise) is answered at once: flushed.
    expect(await commitMode([row(), row({ ignored: true })], false)).toEqual({ mode: 'on', inserted: 2 });
    expect(await commitMode([row()], true)).toEqual({ mode: 'on', inserted: 1 });
  });

  it('compresses payloads with lz4 where the server has it (migration 0003)', async () => {
    const { rows } = await database.pool!.query<{ lz4: boolean; method: string }>(
      `select exists (select 1 from pg_settings where name = 'default_toast_compression'
          and 'lz4' = any(enumvals)) as lz4,
        (select attcompression from pg_attribute
          where attrelid = 'stripe_events'::regclass and attname = 'payload') as method`,
    );
    expect(rows[0]!.method).toBe(rows[0]!.lz4 ? 'l' : '');
  });

  it('keeps going after a failed batch', async () => {
    await expect(batcher.insert(row({ payload: 'not json' }), true)).rejects.toThrow();
    expect(await batcher.insert(row(), true)).toBe('new');
  });
});
