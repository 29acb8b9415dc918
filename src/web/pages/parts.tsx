import type { BalanceView, TransactionView } from '../../modules/credits/credits.queries';
import type { EntitlementView } from '../../modules/entitlements/entitlements.types';
import type { UsageChart } from '../data/account';
import { count, creditTypeLabel, date, dateTime, featureLabel } from '../format';
import { TableWrap } from './layout';

/** Pieces shared by the account page and the admin customer page. */

const STATUS_BADGE: Record<string, string> = {
  active: 'ok',
  scheduled: 'plain',
  expired: 'plain',
  revoked: 'bad',
  exhausted: 'warn',
};

export const Badge = (props: { kind?: string; text: string }) => (
  <span class={`badge ${props.kind ?? ''}`.trim()}>{props.text}</span>
);

function entitlementTarget(e: EntitlementView): string {
  if (e.feature) return featureLabel(e.feature);
  if (e.tier) return `${featureLabel(e.tier)} tier`;
  if (e.credit_type) return creditTypeLabel(e.credit_type);
  if (e.product_id) return 'Product access';
  return '—';
}

export function EntitlementsTable(props: { rows: EntitlementView[]; label?: string }) {
  if (!props.rows.length)
    return <p class="muted">Nothing yet: buying a plan or add-on grants access here.</p>;
  return (
    <TableWrap label={props.label ?? 'Entitlements'}>
      <table>
        <thead>
          <tr>
            <th scope="col">What</th>
            <th scope="col">Kind</th>
            <th scope="col" class="num">
              Quantity
            </th>
            <th scope="col">Why</th>
            <th scope="col">From</th>
            <th scope="col">Until</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((e) => (
            <tr>
              <td>{entitlementTarget(e)}</td>
              <td>{featureLabel(e.entitlement_type)}</td>
              <td class="num">
                {e.quantity_granted === null
                  ? 'Unlimited'
                  : e.quantity_remaining === null
                    ? count(e.quantity_granted)
                    : `${count(e.quantity_remaining)} of ${count(e.quantity_granted)}`}
              </td>
              <td>
                {featureLabel(e.grant_reason)}
                {e.notes ? <span class="sub">{e.notes}</span> : null}
              </td>
              <td>{date(e.granted_at)}</td>
              <td>{e.expires_at ? date(e.expires_at) : 'No end'}</td>
              <td>
                <Badge kind={STATUS_BADGE[e.status]} text={featureLabel(e.status)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

export function BalanceStats(props: { balances: BalanceView[] }) {
  if (!props.balances.length) return <p class="muted">No credits yet.</p>;
  return (
    <>
      {props.balances.map((b) => (
        <div class="stat">
          <div class="value" data-testid={`credits-${b.credit_type}`}>
            {count(b.available)}
          </div>
          <div class="label">
            {creditTypeLabel(b.credit_type)} available
            {b.reserved ? ` · ${count(b.reserved)} on hold` : ''}
            {b.debt ? ` · ${count(b.debt)} owed` : ''}
            {b.expires_at ? ` · some expire on ${date(b.expires_at)}` : ''}
          </div>
        </div>
      ))}
    </>
  );
}

const TX_LABEL: Record<string, string> = {
  purchase: 'Purchase',
  grant: 'Grant',
  usage: 'Used',
  refund: 'Refund',
  expiration: 'Expired',
  bonus: 'Bonus',
  adjustment: 'Adjustment',
  transfer: 'Transfer',
  reserve: 'Held',
  release: 'Released',
};

export function LedgerTable(props: { rows: TransactionView[]; label?: string }) {
  if (!props.rows.length) return <p class="muted">No credit movements yet.</p>;
  return (
    <TableWrap label={props.label ?? 'Credit ledger'}>
      <table>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Type</th>
            <th scope="col">Credits</th>
            <th scope="col" class="num">
              Change
            </th>
            <th scope="col" class="num">
              Balance after
            </th>
            <th scope="col">Description</th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((t) => (
            <tr>
              <td>{dateTime(t.created_at)}</td>
              <td>{TX_LABEL[t.type] ?? t.type}</td>
              <td>{creditTypeLabel(t.credit_type)}</td>
              <td class="num">{t.amount > 0 ? `+${count(t.amount)}` : count(t.amount)}</td>
              <td class="num">{count(t.balance_after)}</td>
              <td>
                {t.description ?? ''}
                {t.reference_id ? <span class="sub">{t.reference_id}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

/** A uPlot chart drawn by charts.js from its data attribute (JSON in an attribute is escaped like any value). */
export function Chart(props: {
  id: string;
  label: string;
  spec: {
    x: number[];
    series: Array<{
      label: string;
      values: number[];
      kind: 'line' | 'bars' | 'step';
      axis?: 'left' | 'right';
    }>;
    money?: string;
  };
}) {
  return (
    <figure class="chart-figure">
      <figcaption class="muted small">{props.label}</figcaption>
      <div
        class="chart"
        id={props.id}
        data-chart={JSON.stringify(props.spec)}
        role="img"
        aria-label={props.label}
      >
        <p class="chart-empty">Loading the chart…</p>
      </div>
    </figure>
  );
}

export function UsageCharts(props: { charts: UsageChart[] }) {
  if (!props.charts.length) return <p class="muted">No credit activity yet.</p>;
  return (
    <>
      {props.charts.map((ch) => (
        <Chart
          id={`usage-${ch.creditType}`}
          label={`${creditTypeLabel(ch.creditType)}: balance at the end of each day, and credits used per day`}
          spec={{
            x: ch.days,
            series: [
              { label: 'Balance', values: ch.balance, kind: 'line', axis: 'left' },
              { label: 'Used', values: ch.used, kind: 'bars', axis: 'right' },
            ],
          }}
        />
      ))}
    </>
  );
}
