import { and, desc, eq, gt, isNull, or, type SQL } from 'drizzle-orm';
import { notFound } from '../../lib/errors';
import { isUuid } from '../../lib/ids';
import { type EntitlementRow, entitlements } from './entitlements.tables';
import { type EntitlementDeps, parseEntitlementType } from './entitlements.types';

/**
 * The entitlements service (SPEC section 6): what a user may do. Writes take the caller's transaction
 * (`grant`, `revoke`, `revokeByReference`, `grantFromPrice`, `applyEndPolicy`, `grantCreditEntitlement`);
 * run them in `transact(deps, fn)` (or `deps.invalidation.transaction`) so this instance's cache is
 * refreshed the moment they commit. Questions (`can`, `limit`, `check`, `summary`, `explain`) are served
 * from the per-instance cache.
 */
export { entitlementTopic, transact } from './cache';
export { consumeQuantity } from './consume';
export { grantFromPrice } from './from-price';
export { grant, grantCreditEntitlement, revoke, revokeByReference } from './grant';
export { applyEndPolicy } from './lifecycle';
export { can, check, explain, limit, summary } from './questions';

/** A user's grants, newest first: live ones (active or starting later) unless includeInactive. */
export async function listEntitlements(
  deps: EntitlementDeps,
  userId: string,
  opts: { includeInactive?: boolean; type?: string } = {},
): Promise<EntitlementRow[]> {
  const now = deps.clock.now();
  const filters: (SQL | undefined)[] = [eq(entitlements.userId, userId)];
  if (opts.type) filters.push(eq(entitlements.type, parseEntitlementType(opts.type, 'type')));
  if (!opts.includeInactive) {
    filters.push(
      isNull(entitlements.revokedAt),
      or(isNull(entitlements.expiresAt), gt(entitlements.expiresAt, now)),
    );
  }
  return deps.db
    .select()
    .from(entitlements)
    .where(and(...filters))
    .orderBy(desc(entitlements.createdAt), desc(entitlements.id))
    .limit(1000);
}

export async function getEntitlement(deps: EntitlementDeps, id: string): Promise<EntitlementRow> {
  if (!isUuid(id)) throw notFound('Entitlement');
  const [row] = await deps.db.select().from(entitlements).where(eq(entitlements.id, id));
  if (!row) throw notFound('Entitlement');
  return row;
}
