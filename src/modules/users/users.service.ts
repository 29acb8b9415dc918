import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import { type Db, type Queryable, queryRows } from '../../db/client';
import { isUniqueViolation } from '../../db/errors';
import { AppError, notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { type InvalidationBus, publishInvalidation } from '../../lib/invalidation';
import { hashPassword } from '../auth/password';
import { type Role, type UserRow, users } from './users.tables';

export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  created_at: string;
}

export const toPublicUser = (u: UserRow): PublicUser => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  created_at: u.createdAt.toISOString(),
});

export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export interface CreateUserInput {
  email: string;
  password: string;
  name?: string | null;
  /** 'admin' forces an admin (CLI); 'bootstrap' makes an admin only while none exists (ADMIN_EMAIL). */
  role?: 'user' | 'admin' | 'bootstrap';
}

/** Creates a user; 409 `conflict` if a live account already uses the email (in any case). */
export async function createUser(db: Db, input: CreateUserInput): Promise<UserRow> {
  const passwordHash = await hashPassword(input.password);
  const email = normalizeEmail(input.email);
  // The admin-bootstrap rule is decided inside the INSERT, so two racing sign-ups cannot both see "no admin".
  const role =
    input.role === 'admin'
      ? sql`'admin'`
      : input.role === 'bootstrap'
        ? sql`case when exists (select 1 from ${users} where ${users.role} = 'admin' and ${users.deletedAt} is null) then 'user' else 'admin' end`
        : sql`'user'`;
  try {
    const rows = await queryRows<{ id: string }>(
      db,
      sql`
      insert into ${users} (id, email, name, password_hash, role)
      values (${newId()}, ${email}, ${input.name ?? null}, ${passwordHash}, ${role})
      returning id`,
    );
    return (await getUser(db, rows[0]!.id))!;
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', 'An account with this email already exists');
    throw err;
  }
}

export async function getUser(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.id, id), isNull(users.deletedAt)));
  return row;
}

export async function requireUser(db: Db, id: string): Promise<UserRow> {
  const user = await getUser(db, id);
  if (!user) throw notFound('User');
  return user;
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(sql`lower(${users.email}) = ${normalizeEmail(email)}`, isNull(users.deletedAt)));
  return row;
}

export async function setRole(db: Db, id: string, role: Role, bus?: InvalidationBus): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(users).set({ role, updatedAt: new Date() }).where(eq(users.id, id));
    // Cached sessions and keys of this user carry the old role: every instance drops them on commit.
    await publishInvalidation(bus, tx, `auth:user:${id}`);
  });
}

export async function setPassword(db: Db, id: string, password: string): Promise<void> {
  await db
    .update(users)
    .set({ passwordHash: await hashPassword(password), updatedAt: new Date() })
    .where(eq(users.id, id));
}

/** Keyset-paginated list of live users, oldest first (UUIDv7 ids sort by creation). */
export async function listUsers(db: Db, opts: { limit: number; startingAfter?: string }) {
  const rows = await db
    .select()
    .from(users)
    .where(and(isNull(users.deletedAt), opts.startingAfter ? gt(users.id, opts.startingAfter) : undefined))
    .orderBy(asc(users.id))
    .limit(opts.limit + 1);
  return { data: rows.slice(0, opts.limit), has_more: rows.length > opts.limit };
}

// Stripe customer link (checkout creates it lazily; customer.deleted removes it). Any Queryable, so
// webhook handlers can call them inside their transaction.

/** The live user whose Stripe customer this is. */
export async function findUserByStripeCustomer(
  q: Queryable,
  customerId: string,
): Promise<UserRow | undefined> {
  const [row] = await q
    .select()
    .from(users)
    .where(and(eq(users.stripeCustomerId, customerId), isNull(users.deletedAt)));
  return row;
}

/** A live user by id, inside a transaction. */
export async function getUserIn(q: Queryable, id: string): Promise<UserRow | undefined> {
  const [row] = await q
    .select()
    .from(users)
    .where(and(eq(users.id, id), isNull(users.deletedAt)));
  return row;
}

/**
 * Links a Stripe customer unless the user already has one (a conditional UPDATE, so two racing
 * checkouts keep one customer). Returns the customer id the user has afterwards.
 */
export async function setStripeCustomerIfUnset(
  q: Queryable,
  userId: string,
  customerId: string,
): Promise<string | null> {
  const updated = await q
    .update(users)
    .set({ stripeCustomerId: customerId })
    .where(and(eq(users.id, userId), isNull(users.stripeCustomerId)))
    .returning({ id: users.stripeCustomerId });
  if (updated.length) return customerId;
  const [row] = await q.select({ id: users.stripeCustomerId }).from(users).where(eq(users.id, userId));
  return row?.id ?? null;
}

/** The customer was deleted in Stripe: the user gets a new one on their next checkout. */
export async function detachStripeCustomer(
  q: Queryable,
  customerId: string,
  at: Date,
): Promise<string | null> {
  const [row] = await q
    .update(users)
    .set({ stripeCustomerId: null, updatedAt: at })
    .where(eq(users.stripeCustomerId, customerId))
    .returning({ id: users.id });
  return row?.id ?? null;
}
