import { and, eq, gt, isNull, notLike, or, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import { invalid } from '../../lib/errors';
import { type EntitlementRow, entitlements } from './entitlements.tables';
import { listTierInfo } from './entitlements.ports';
import { type EntitlementDeps, TIER_TYPES } from './entitlements.types';
import { type GrantResult, insertGrant, normalizeGrant, revokeRows } from './grant';

export type EndPolicy = 'revoke' | 'freemium' | 'grace';
export const FREE_TIER = 'free';
const DAY_MS = 86_400_000;
/** Policy grants carry this source-key prefix, so a repeated end call neither revokes nor re-grants them. */
const END_SOURCE = 'subscription_end:';

export interface EndPolicyResult {
  policy: EndPolicy;
  revoked: EntitlementRow[];
  /** The free tier (freemium) or the grace access (grace), when one was granted now or before. */
  granted: GrantResult | null;
}

/**
 * What happens to a user's access when a subscription has finally ended (SUBSCRIPTION_END_POLICY):
 * `revoke` revokes every live grant of that subscription (matched on subscription_id or reference_id);
 * `freemium` also grants TIER_ACCESS to the free tier; `grace` also grants TEMPORARY_ACCESS for
 * GRACE_DAYS from `endedAt`, carrying the ended plan's tier and features. Safe to call more than once.
 */
export async function applyEndPolicy(
  deps: EntitlementDeps,
  tx: Tx,
  input: { userId: string; subscriptionId: string; endedAt: Date; policy?: EndPolicy },
): Promise<EndPolicyResult> {
  const policy = input.policy ?? deps.config.SUBSCRIPTION_END_POLICY;
  if (!input.subscriptionId) throw invalid('applyEndPolicy needs a subscription id');
  const now = deps.clock.now();
  const revoked = await revokeRows(
    deps,
    tx,
    and(
      eq(entitlements.userId, input.userId),
      or(
        eq(entitlements.subscriptionId, input.subscriptionId),
        eq(entitlements.referenceId, input.subscriptionId),
      ),
      isNull(entitlements.revokedAt),
      // Grants of past periods have run out already: leave their history as it is.
      or(isNull(entitlements.expiresAt), gt(entitlements.expiresAt, now)),
      or(isNull(entitlements.sourceKey), notLike(entitlements.sourceKey, `${END_SOURCE}%`)),
    )!,
    'subscription_ended',
  );
  const source = { key: `${END_SOURCE}${input.subscriptionId}`, itemIndex: 0 };
  const metadata = { ended_subscription_id: input.subscriptionId, policy };

  if (policy === 'freemium') {
    const row = await normalizeGrant(deps, {
      userId: input.userId,
      type: 'tier_access',
      tier: FREE_TIER,
      grantReason: 'subscription_cancelled',
      grantedAt: earliest(input.endedAt, now),
      source,
      metadata,
    });
    return { policy, revoked, granted: await insertGrant(deps, tx, row) };
  }

  if (policy === 'grace') {
    const graceMs = deps.config.GRACE_DAYS * DAY_MS;
    const until = input.endedAt.getTime() + graceMs;
    if (graceMs <= 0 || until <= now.getTime()) return { policy, revoked, granted: null };
    const plan = await planOf(tx, revoked.length ? revoked : await previouslyRevoked(tx, input));
    if (!plan.tier && plan.features.length === 0) return { policy, revoked, granted: null };
    const row = await normalizeGrant(deps, {
      userId: input.userId,
      type: 'temporary_access',
      tier: plan.tier,
      features: plan.features,
      grantReason: 'subscription_cancelled',
      grantedAt: earliest(input.endedAt, now),
      expiresAt: new Date(until),
      source,
      metadata: { ...metadata, grace_days: deps.config.GRACE_DAYS },
    });
    return { policy, revoked, granted: await insertGrant(deps, tx, row) };
  }
  return { policy, revoked, granted: null };
}

const earliest = (a: Date, b: Date) => (a.getTime() < b.getTime() ? a : b);

/** On a repeated call nothing is revoked any more; the plan is read from what the first call revoked. */
function previouslyRevoked(tx: Tx, input: { userId: string; subscriptionId: string }) {
  return tx
    .select()
    .from(entitlements)
    .where(
      and(
        eq(entitlements.userId, input.userId),
        or(
          eq(entitlements.subscriptionId, input.subscriptionId),
          eq(entitlements.referenceId, input.subscriptionId),
        ),
        sql`${entitlements.revokeReason} = 'subscription_ended'`,
      ),
    );
}

/** The ended plan: its highest tier, and every feature its grants unlocked (tier features included). */
async function planOf(tx: Tx, rows: EntitlementRow[]) {
  const tiers = new Map((await listTierInfo(tx)).map((t) => [t.key, t]));
  let tier: string | null = null;
  let rank = Number.NEGATIVE_INFINITY;
  const features = new Set<string>();
  for (const r of rows) {
    if (r.type === 'credit_grant') continue;
    if (r.feature) features.add(r.feature);
    for (const f of (r.metadata.features as string[] | undefined) ?? []) features.add(f);
    if (r.tierKey && TIER_TYPES.has(r.type)) {
      const info = tiers.get(r.tierKey);
      for (const f of info?.features ?? []) features.add(f);
      const rk = info?.rank ?? 0;
      if (rk > rank) {
        rank = rk;
        tier = r.tierKey;
      }
    }
  }
  return { tier, features: [...features].sort() };
}
