import type { Account, LoadNeeds } from './account';
import { adjust, allowance, clawback, grant, revokeGrant, transfer } from './ops-grants';
import { commit, consume, release, reserve } from './ops-holds';
import { allowanceKey, clawbackKey, type Op, rolloverKey } from './ops-types';

export * from './ops-types';

/**
 * The operations on one account. Each runs against the locked, in-memory account: it either throws an
 * AppError before changing anything (so it writes nothing and leaves the rest of its batch alone) or
 * changes the account and returns its result (an AppError returned, not thrown, is an answer that still
 * wrote something: a late commit that found its hold expired and released it).
 */

/** What an operation needs loaded before it runs. */
export function declareNeeds(op: Op, needs: LoadNeeds): void {
  switch (op.kind) {
    case 'consume':
      needs.keys.add(op.key);
      return;
    case 'reserve':
      needs.keys.add(op.key);
      needs.reservationsByKey = true;
      return;
    case 'commit':
    case 'release':
      needs.reservationIds.add(op.reservationId);
      return;
    case 'grant':
      needs.create = true;
      if (op.key) needs.keys.add(op.key);
      if (op.sourceKey) needs.sourceKeys.add(op.sourceKey);
      return;
    case 'adjust':
    case 'transfer':
      if (op.kind === 'adjust' && op.amount > 0) needs.create = true;
      if (op.key) needs.keys.add(op.key);
      return;
    case 'clawback':
      needs.grantIds.add(op.grantId);
      needs.sourceKeys.add(clawbackKey(op.refundId, op.grantId));
      return;
    case 'revoke_grant':
      needs.grantIds.add(op.grantId);
      return;
    case 'allowance': {
      needs.create = true;
      needs.sourceKeys.add(allowanceKey(op.periodKey));
      needs.sourceKeys.add(rolloverKey(op.periodKey));
      const since = needs.allowanceSources.get(op.sourceId);
      if (!since || op.periodStart < since) needs.allowanceSources.set(op.sourceId, op.periodStart);
      return;
    }
    case 'expire':
      return;
  }
}

export function apply(acct: Account, op: Op): unknown {
  switch (op.kind) {
    case 'consume':
      return consume(acct, op);
    case 'reserve':
      return reserve(acct, op);
    case 'commit':
      return commit(acct, op);
    case 'release':
      return release(acct, op);
    case 'grant':
      return grant(acct, op);
    case 'adjust':
      return adjust(acct, op);
    case 'transfer':
      return transfer(acct, op);
    case 'clawback':
      return clawback(acct, op);
    case 'revoke_grant':
      return revokeGrant(acct, op);
    case 'allowance':
      return allowance(acct, op);
    case 'expire':
      return { balance: acct.balance };
  }
}
