import type { BalanceView, TransactionView } from '../../modules/credits/credits.queries';
import { POOLS } from '../../modules/credits/credits.types';
import type { EntitlementView } from '../../modules/entitlements/entitlements.types';
import type { UserRow } from '../../modules/users/users.tables';
import type { UsageChart } from '../data/account';
import { creditTypeLabel, date, dateTime, featureLabel } from '../format';
import { AdminLayout } from './admin';
import { Notice, type PageFrame, StatusLine, TableWrap } from './layout';
import { BalanceStats, EntitlementsTable, LedgerTable, UsageCharts } from './parts';

export function AdminCustomersPage(
  props: PageFrame & { users: UserRow[]; next: string | null; search?: string; notFound?: boolean },
) {
  return (
    <AdminLayout {...props} title="Customers" current="customers">
      <form method="get" action="/admin/customers" class="filters card">
        <div>
          <label for="customer-email">Find by email</label>
          <input
            id="customer-email"
            name="email"
            type="email"
            value={props.search ?? ''}
            autocomplete="off"
          />
        </div>
        <div>
          <button type="submit" class="secondary">
            Find
          </button>
        </div>
      </form>
      {props.notFound ? <Notice kind="warning">No customer has that email address.</Notice> : null}
      {props.users.length ? (
        <TableWrap label="Customers">
          <table>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Signed up</th>
              </tr>
            </thead>
            <tbody>
              {props.users.map((u) => (
                <tr>
                  <td>
                    <a href={`/admin/customers/${u.id}`}>{u.email}</a>
                  </td>
                  <td>{u.name ?? '—'}</td>
                  <td>{u.role}</td>
                  <td>{date(u.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : (
        <p class="muted">No customers yet.</p>
      )}
      {props.next ? (
        <p class="pager">
          <a href={`/admin/customers?starting_after=${props.next}`}>More customers</a>
        </p>
      ) : null}
    </AdminLayout>
  );
}

export interface CustomerDetail {
  user: UserRow;
  tier: string;
  entitlements: EntitlementView[];
  balances: BalanceView[];
  ledger: TransactionView[];
  charts: UsageChart[];
}

export function AdminCustomerPage(props: PageFrame & { customer: CustomerDetail; creditTypes: string[] }) {
  const { customer } = props;
  const u = customer.user;
  return (
    <AdminLayout {...props} title={u.email} current="customers" charts>
      <p>
        <a href="/admin/customers">All customers</a>
      </p>
      <div class="grid two">
        <section class="card">
          <h2>Account</h2>
          <dl class="facts">
            <dt>Email</dt>
            <dd>{u.email}</dd>
            <dt>Name</dt>
            <dd>{u.name ?? '—'}</dd>
            <dt>Role</dt>
            <dd>{u.role}</dd>
            <dt>Tier</dt>
            <dd data-testid="customer-tier">{featureLabel(customer.tier)}</dd>
            <dt>Signed up</dt>
            <dd>{dateTime(u.createdAt)}</dd>
            <dt>Stripe customer</dt>
            <dd>{u.stripeCustomerId ?? '—'}</dd>
            <dt>User id</dt>
            <dd>
              <code>{u.id}</code>
            </dd>
          </dl>
        </section>
        <section class="card">
          <h2>Credits</h2>
          <BalanceStats balances={customer.balances} />
        </section>
      </div>

      <section class="card">
        <h2>Grant credits</h2>
        <form data-api="/api/v1/admin/credits/grant" data-success="Granted." data-reload novalidate>
          <input type="hidden" name="user_id" value={u.id} />
          <div class="form-row">
            <div>
              <label for="grant-type">Credit type</label>
              <select id="grant-type" name="credit_type">
                {props.creditTypes.map((t) => (
                  <option value={t}>{creditTypeLabel(t)}</option>
                ))}
              </select>
            </div>
            <div>
              <label for="grant-amount">Amount</label>
              <input
                id="grant-amount"
                name="amount"
                type="number"
                min={1}
                step={1}
                required
                data-type="int"
              />
            </div>
            <div>
              <label for="grant-pool">Pool</label>
              <select id="grant-pool" name="pool">
                {POOLS.map((p) => (
                  <option value={p} selected={p === 'bonus'}>
                    {featureLabel(p)}
                  </option>
                ))}
              </select>
            </div>
            <div>
              <label for="grant-expires">
                Expires <span class="hint">Empty: never</span>
              </label>
              <input id="grant-expires" name="expires_at" type="datetime-local" data-type="date" />
            </div>
          </div>
          <label for="grant-reason">Reason</label>
          <input
            id="grant-reason"
            name="reason"
            type="text"
            required
            maxlength={500}
            placeholder="e.g. compensation for an outage"
          />
          <div class="actions">
            <button type="submit">Grant credits</button>
          </div>
          <StatusLine />
        </form>
      </section>

      <section class="card">
        <h2>Credit usage</h2>
        <UsageCharts charts={customer.charts} />
      </section>

      <h2>Entitlements</h2>
      <EntitlementsTable rows={customer.entitlements} label={`Entitlements of ${u.email}`} />

      <h2>Ledger</h2>
      <LedgerTable rows={customer.ledger} label={`Credit ledger of ${u.email}`} />
    </AdminLayout>
  );
}
