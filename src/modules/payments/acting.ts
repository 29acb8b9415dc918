import type { Context } from 'hono';
import { actingUserId, principalOf } from '../../http/auth';
import type { AppEnv } from '../../http/env';
import { forbidden, notFound } from '../../lib/errors';
import { getUser } from '../users/users.service';

/**
 * The user a billing request acts for: the caller, or with a service key (`on_behalf`) the named
 * non-admin user. Anyone else naming another user gets 403 (SPEC section 2).
 */
export async function billingUser(c: Context<AppEnv>, requested?: string | null): Promise<string> {
  const id = actingUserId(c, requested);
  if (id === principalOf(c).user.id) return id;
  const target = await getUser(c.get('deps').db, id);
  if (!target) throw notFound('User');
  if (target.role === 'admin') throw forbidden('A service key may act only for non-admin users');
  return id;
}
