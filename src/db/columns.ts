import { timestamp, uuid } from 'drizzle-orm/pg-core';
import { newId } from '../lib/ids';

/** Shared column builders: UUIDv7 primary keys and timestamptz columns. */
export const idColumn = () =>
  uuid('id')
    .primaryKey()
    .$defaultFn(() => newId());
export const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
export const createdAt = () => ts('created_at').notNull().defaultNow();
export const updatedAt = () => ts('updated_at').notNull().defaultNow();
