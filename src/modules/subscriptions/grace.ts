import { eq } from 'drizzle-orm';
import type { Deps } from '../../deps';
import { transact } from '../entitlements/entitlements.service';
import { reconcileAccess } from './access';
import { graceExpired } from './subscriptions.service';
import { subscriptions } from './subscriptions.tables';

/**
 * The grace-period job: a past_due subscription keeps its access for PAST_DUE_GRACE_DAYS after the
 * failed renewal, then loses it (a later paid retry gives it back through invoice.paid). Runs on the
 * job runner in business time; each subscription is re-checked under its row lock.
 */
export async function enforceGracePeriods(deps: Deps): Promise<number> {
  const rows = await graceExpired(deps.db, deps.clock.now(), deps.config.PAST_DUE_GRACE_DAYS);
  let revoked = 0;
  for (const candidate of rows) {
    await transact(deps, async (tx) => {
      const [row] = await tx
        .select()
        .from(subscriptions)
        .where(eq(subscriptions.id, candidate.id))
        .for('update');
      if (!row) return;
      const after = await reconcileAccess(deps, tx, row);
      if (row.accessPriceId && !after.accessPriceId) revoked++;
    });
  }
  if (revoked) deps.logger.info({ revoked }, 'past-due grace periods ended; access revoked');
  return revoked;
}
