import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/client';
import { isUniqueViolation } from '../../db/errors';
import { AppError, notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
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

export async function setRole(db: Db, id: string, role: Role): Promise<void> {
  await db.update(users).set({ role, updatedAt: new Date() }).where(eq(users.id, id));
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
