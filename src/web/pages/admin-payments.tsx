import { ADMIN_PAYMENTS_PATH, ADMIN_REFUND_PATH } from '../api-paths';
import { AdminLayout } from './admin';
import type { PageFrame } from './layout';

/** Payments with refunds: listed by admin-payments.js from the payments admin API. */
export function AdminPaymentsPage(props: PageFrame & { priceLabels: Record<string, string> }) {
  return (
    <AdminLayout {...props} title="Payments" current="payments" scripts={['/assets/admin-payments.js']}>
      <form class="filters card" id="payments-filter">
        <div>
          <label for="payments-status">Status</label>
          <select id="payments-status" name="status">
            {[
              ['', 'Any'],
              ['succeeded', 'Paid'],
              ['pending', 'Pending'],
              ['refunded', 'Refunded'],
              ['partially_refunded', 'Partly refunded'],
              ['failed', 'Failed'],
              ['expired', 'Expired'],
              ['disputed', 'Disputed'],
            ].map(([value, label]) => (
              <option value={value}>{label}</option>
            ))}
          </select>
        </div>
        <div>
          <button type="submit" class="secondary">
            Filter
          </button>
        </div>
      </form>
      <div
        id="admin-payments"
        data-testid="admin-payments"
        data-list={ADMIN_PAYMENTS_PATH}
        data-refund={ADMIN_REFUND_PATH}
        data-prices={JSON.stringify(props.priceLabels)}
      >
        <p class="muted">Loading payments…</p>
      </div>
      <p class="pager">
        <button type="button" id="more-payments" class="secondary" hidden>
          Older payments
        </button>
      </p>
    </AdminLayout>
  );
}
