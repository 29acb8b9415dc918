import { invalid } from '../../lib/errors';
import { rowsOf, tiersOf } from './cache';
import { totalRemaining } from './consume';
import type { EntitlementRow } from './entitlements.tables';
import { creditBalanceOf, creditTotals, type TierInfo } from './entitlements.ports';
import {
  type EntitlementDeps,
  isActive,
  parseEntitlementType,
  remainingOf,
  TIER_TYPES,
  toView,
} from './entitlements.types';

type Tiers = Map<string, TierInfo>;

/** The user's grants that are live at this moment (window evaluated now), with the tier table. */
async function live(deps: EntitlementDeps, userId: string) {
  const [rows, tiers] = await Promise.all([rowsOf(deps, userId), tiersOf(deps)]);
  const now = deps.clock.now();
  return { now, rows: rows.filter((r) => isActive(r, now)), tiers };
}

const isQuantityGrant = (r: EntitlementRow) => r.type !== 'credit_grant' && r.consumptionType !== 'none';
const metaList = (r: EntitlementRow, key: string): string[] => {
  const v = r.metadata[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
};

/** How a row answers "may the user use `feature`?": null when it does not. */
export function routeTo(
  r: EntitlementRow,
  feature: string,
  tiers: Tiers,
): 'feature' | 'tier' | 'features' | null {
  if (r.type === 'credit_grant') return null;
  // A used-up quantity grant no longer answers yes.
  if (isQuantityGrant(r) && remainingOf(r) === 0) return null;
  if (r.feature === feature) return 'feature';
  if (metaList(r, 'features').includes(feature)) return 'features';
  if (r.tierKey && TIER_TYPES.has(r.type) && tiers.get(r.tierKey)?.features.includes(feature)) return 'tier';
  return null;
}

/** May the user use this feature now? Through a feature unlock, a tier or subscription whose tier lists it, or temporary access. */
export async function can(deps: EntitlementDeps, userId: string, feature: string): Promise<boolean> {
  const { rows, tiers } = await live(deps, userId);
  const ok = rows.some((r) => routeTo(r, feature, tiers) !== null);
  const m = deps.metrics?.entitlementChecks.can;
  (ok ? m?.allowed : m?.denied)?.inc();
  return ok;
}

/** The highest value of a limit among the user's live tiers and grants (`metadata.limits`); null when none sets it. */
export async function limit(deps: EntitlementDeps, userId: string, key: string): Promise<number | null> {
  const { rows, tiers } = await live(deps, userId);
  let best: number | null = null;
  const consider = (v: unknown) => {
    if (typeof v === 'number' && Number.isFinite(v) && (best === null || v > best)) best = v;
  };
  for (const r of rows) {
    if (r.tierKey && TIER_TYPES.has(r.type)) consider(tiers.get(r.tierKey)?.limits[key]);
    const own = r.metadata.limits;
    if (own && typeof own === 'object') consider((own as Record<string, unknown>)[key]);
  }
  return best;
}

export interface CheckQuery {
  type?: string;
  feature?: string;
  credit_type?: string;
  quantity?: number;
}

export interface CheckAnswer {
  has_access: boolean;
  /** What is left to use: credits for credit_type, the sum of quantity grants otherwise; null = unlimited. */
  total_available_quantity: number | null;
  /** When the access that answers yes ends (the latest of its grants); null = no end. */
  expires_at: string | null;
  /** Why not, or what bounds the yes: `{reason, ...}`; empty when nothing does. */
  limitations: Record<string, unknown>;
}

/** The detailed question: by type, feature or credit type, optionally for a quantity. */
export async function check(deps: EntitlementDeps, userId: string, q: CheckQuery): Promise<CheckAnswer> {
  const answer = await answerCheck(deps, userId, q);
  const m = deps.metrics?.entitlementChecks.check;
  (answer.has_access ? m?.allowed : m?.denied)?.inc();
  return answer;
}

async function answerCheck(deps: EntitlementDeps, userId: string, q: CheckQuery): Promise<CheckAnswer> {
  const type = q.type ? parseEntitlementType(q.type, 'type') : undefined;
  const need = q.quantity ?? null;
  if (q.credit_type || (type === 'credit_grant' && !q.feature)) {
    if (!q.credit_type) throw invalid('credit_type is required with type=credit_grant');
    const balance = await creditBalanceOf(deps, userId, q.credit_type);
    const wanted = need ?? 1;
    const ok = balance.available >= wanted;
    return {
      has_access: ok,
      total_available_quantity: balance.available,
      expires_at: balance.expiresAt?.toISOString() ?? null,
      limitations: ok
        ? {}
        : {
            reason: balance.available > 0 ? 'insufficient_credits' : 'no_credits',
            needed: wanted,
            available: balance.available,
          },
    };
  }
  if (!type && !q.feature) throw invalid('Ask about a feature, a type or a credit_type');

  const { now, rows: all, tiers } = await live(deps, userId);
  const rows = type ? all.filter((r) => r.type === type) : all;
  const answering = q.feature
    ? rows.filter((r) => routeTo(r, q.feature!, tiers) !== null)
    : rows.filter((r) => !isQuantityGrant(r) || remainingOf(r) !== 0);
  const quantityRows = answering.filter(isQuantityGrant);
  // Access without any quantity grant (an unlock, a tier) is unlimited.
  const total =
    answering.length === 0
      ? 0
      : quantityRows.length === answering.length
        ? totalRemaining(quantityRows)
        : null;
  const enough = need === null || total === null || total >= need;
  const hasAccess = answering.length > 0 && enough;
  const ends = answering.map((r) => r.expiresAt);
  const expiresAt =
    answering.length === 0 || ends.some((e) => e === null)
      ? null
      : new Date(Math.max(...ends.map((e) => e!.getTime()))).toISOString();

  let limitations: Record<string, unknown> = {};
  if (answering.length === 0) {
    const upcoming = (await rowsOf(deps, userId))
      .filter((r) => !r.revokedAt && r.grantedAt > now && (!type || r.type === type))
      .filter((r) => !q.feature || routeTo(r, q.feature, tiers) !== null)
      .sort((a, b) => a.grantedAt.getTime() - b.grantedAt.getTime())[0];
    limitations = upcoming
      ? { reason: 'not_yet_active', starts_at: upcoming.grantedAt.toISOString() }
      : { reason: 'no_active_entitlement' };
  } else if (!enough) {
    limitations = { reason: 'insufficient_quantity', needed: need, available: total };
  } else if (total !== null) {
    limitations = { quantity_remaining: total };
  }
  return { has_access: hasAccess, total_available_quantity: total, expires_at: expiresAt, limitations };
}

/** The user's live grants, plan and credits in one answer. */
export async function summary(deps: EntitlementDeps, userId: string) {
  const { now, rows, tiers } = await live(deps, userId);
  let tier = 'free';
  let rank = Number.NEGATIVE_INFINITY;
  const features = new Set<string>();
  const limits: Record<string, number> = {};
  for (const r of rows) {
    if (r.type === 'credit_grant') continue;
    if (isQuantityGrant(r) && remainingOf(r) === 0) continue;
    if (r.feature) features.add(r.feature);
    for (const f of metaList(r, 'features')) features.add(f);
    if (r.tierKey && TIER_TYPES.has(r.type)) {
      const info = tiers.get(r.tierKey);
      for (const f of info?.features ?? []) features.add(f);
      for (const [k, v] of Object.entries(info?.limits ?? {})) limits[k] = Math.max(limits[k] ?? v, v);
      if ((info?.rank ?? 0) > rank) {
        rank = info?.rank ?? 0;
        tier = r.tierKey;
      }
    }
  }
  const credits = await creditTotals(deps, userId);
  return {
    user_id: userId,
    active_entitlements: rows.map((r) => toView(r, now)),
    has_active_subscription: rows.some(
      (r) => r.type === 'subscription' || (r.subscriptionId !== null && r.type !== 'credit_grant'),
    ),
    tier,
    features: [...features].sort(),
    limits,
    credits_available: credits.available,
    credits_used: credits.used,
  };
}

/** The grants that answer yes for a feature, each with where it came from. */
export async function explain(deps: EntitlementDeps, userId: string, feature: string) {
  const { now, rows, tiers } = await live(deps, userId);
  const grants = rows.flatMap((r) => {
    const via = routeTo(r, feature, tiers);
    if (!via) return [];
    const v = toView(r, now);
    return [
      {
        entitlement_id: r.id,
        entitlement_type: r.type,
        via: via === 'tier' ? `tier:${r.tierKey}` : via === 'features' ? 'features' : r.type,
        tier: r.tierKey,
        grant_reason: r.grantReason,
        granted_at: v.granted_at,
        expires_at: v.expires_at,
        quantity_remaining: v.quantity_remaining,
        payment_id: r.paymentId,
        subscription_id: r.subscriptionId,
        stripe_event_id: r.stripeEventId,
        price_id: r.priceId,
        price_version: r.priceVersion,
        reference_id: r.referenceId,
        source_key: r.sourceKey,
        granted_by: r.grantedBy,
        notes: r.notes,
      },
    ];
  });
  return { user_id: userId, feature, allowed: grants.length > 0, evaluated_at: now.toISOString(), grants };
}
