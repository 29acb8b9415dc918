import type { Child } from 'hono/jsx';
import type { JobRunRow } from '../../jobs/jobs.tables';
import type { StripeEventRow } from '../../webhooks/inbox.tables';
import { statusOf } from '../../webhooks/inbox-queries';
import type { Overview } from '../data/metrics';
import { REVENUE_DAYS } from '../data/metrics';
import { count, dateTime, money } from '../format';
import { Layout, type PageFrame, TableWrap } from './layout';
import { Badge, Chart } from './parts';

export type AdminSection =
  | 'overview'
  | 'catalog'
  | 'discounts'
  | 'customers'
  | 'payments'
  | 'events'
  | 'jobs';

const SECTIONS: Array<[AdminSection, string, string]> = [
  ['overview', '/admin', 'Overview'],
  ['catalog', '/admin/catalog', 'Catalog'],
  ['discounts', '/admin/discounts', 'Discounts'],
  ['customers', '/admin/customers', 'Customers'],
  ['payments', '/admin/payments', 'Payments'],
  ['events', '/admin/events', 'Webhook events'],
  ['jobs', '/admin/jobs', 'Jobs'],
];

export function AdminLayout(
  props: PageFrame & {
    title: string;
    current: AdminSection;
    scripts?: string[];
    charts?: boolean;
    children?: Child;
  },
) {
  return (
    <Layout
      title={`Admin · ${props.title}`}
      section="admin"
      viewer={props.viewer}
      csrf={props.csrf}
      scripts={props.scripts}
      charts={props.charts}
    >
      <p class="eyebrow">Admin</p>
      <h1>{props.title}</h1>
      <nav class="sub" aria-label="Admin sections">
        <ul>
          {SECTIONS.map(([key, href, label]) => (
            <li>
              <a href={href} aria-current={props.current === key ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <p id="page-status" class="status" role="status" aria-live="polite" />
      {props.children}
    </Layout>
  );
}

const Stat = (props: { label: string; value: string; note?: string; testid?: string }) => (
  <section class="card stat">
    <div class="label">{props.label}</div>
    <div class="value" data-testid={props.testid}>
      {props.value}
    </div>
    {props.note ? <div class="label small">{props.note}</div> : null}
  </section>
);

const JOB_BADGE: Record<string, string> = { succeeded: 'ok', failed: 'bad', running: 'plain' };

export function JobRunsTable(props: { runs: JobRunRow[] }) {
  if (!props.runs.length) return <p class="muted">No job has run yet.</p>;
  return (
    <TableWrap label="Job runs">
      <table>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Business time</th>
            <th scope="col" class="num">
              Took
            </th>
            <th scope="col" class="num">
              Items
            </th>
            <th scope="col">Instance / error</th>
          </tr>
        </thead>
        <tbody>
          {props.runs.map((r) => (
            <tr>
              <td>
                <code>{r.job}</code>
                <span class="sub">{r.trigger}</span>
              </td>
              <td>
                <Badge kind={JOB_BADGE[r.status]} text={r.status} />
              </td>
              <td>{dateTime(r.startedAt)}</td>
              <td>{dateTime(r.businessTime)}</td>
              <td class="num">{r.durationMs === null ? '—' : `${count(r.durationMs)} ms`}</td>
              <td class="num">{count(r.processed)}</td>
              <td>
                <span class="sub">{r.instance}</span>
                {r.error ? <span class="sub">{r.error}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

export function AdminOverviewPage(props: PageFrame & { overview: Overview; runs: JobRunRow[] }) {
  const o = props.overview;
  const mrrText =
    o.mrr === null
      ? 'Unavailable'
      : o.mrr.length
        ? money(o.mrr[0]!.amount, o.mrr[0]!.currency)
        : money(0, 'usd');
  const mrrNote =
    o.mrr === null
      ? 'The subscription report failed; see the server log.'
      : o.mrr
          .slice(1)
          .map((m) => `+ ${money(m.amount, m.currency)}`)
          .join(' ') || 'Monthly recurring revenue';
  const r = o.revenue;
  return (
    <AdminLayout {...props} title="Overview" current="overview" charts>
      <div class="grid">
        <Stat label="MRR" value={mrrText} note={mrrNote} testid="mrr" />
        <Stat
          label="Active subscriptions"
          value={o.activeSubscriptions === null ? '0' : count(o.activeSubscriptions)}
          note="Active, trialing and past due"
          testid="active-subscriptions"
        />
        <Stat
          label={`Revenue, last ${REVENUE_DAYS} days`}
          value={r ? money(r.total, r.currency) : money(0, 'usd')}
          note={
            r
              ? r.others.map((m) => `+ ${money(m.amount, m.currency)}`).join(' ') || 'Paid, net of refunds'
              : 'The revenue report failed; see the server log.'
          }
          testid="revenue"
        />
        <Stat label="Customers" value={count(o.users)} testid="users" />
      </div>
      {o.events.failed || o.events.pending ? (
        <p class="notice warning" role="status">
          {`${count(o.events.failed)} webhook event(s) failed and ${count(o.events.pending)} are waiting. `}
          <a href="/admin/events?status=failed">Review them</a>
        </p>
      ) : null}
      <section class="card">
        <h2>Revenue per day</h2>
        <Chart
          id="revenue-chart"
          label={`Paid revenue per day over the last ${REVENUE_DAYS} days${r ? ` (${r.currency.toUpperCase()})` : ''}`}
          spec={{
            x: r?.days ?? [],
            series: [{ label: 'Revenue', values: r?.amounts ?? [], kind: 'bars', axis: 'left' }],
            money: r?.currency ?? 'usd',
          }}
        />
      </section>
      <div class="section-head">
        <h2>Latest job runs</h2>
        <a href="/admin/jobs">All job runs</a>
      </div>
      <JobRunsTable runs={props.runs.slice(0, 8)} />
    </AdminLayout>
  );
}

export function AdminJobsPage(
  props: PageFrame & { runs: JobRunRow[]; jobs: Array<{ name: string; everyMs: number }> },
) {
  return (
    <AdminLayout {...props} title="Jobs" current="jobs">
      <section class="card">
        <h2>Scheduled jobs</h2>
        <p class="muted small">
          Each job runs at most once per period of business time, on whichever instance claims it first.
        </p>
        <ul>
          {props.jobs.map((j) => (
            <li>
              <code>{j.name}</code> every {count(Math.round(j.everyMs / 1000))} s
            </li>
          ))}
        </ul>
      </section>
      <h2>Runs</h2>
      <JobRunsTable runs={props.runs} />
    </AdminLayout>
  );
}

const EVENT_BADGE: Record<string, string> = { handled: 'ok', failed: 'bad', pending: 'warn' };

export function AdminEventsPage(
  props: PageFrame & {
    events: StripeEventRow[];
    hasMore: boolean;
    filters: { type?: string; status?: string };
  },
) {
  const f = props.filters;
  const last = props.events.at(-1);
  const olderQuery = new URLSearchParams({
    ...(f.type ? { type: f.type } : {}),
    ...(f.status ? { status: f.status } : {}),
    ...(last ? { starting_after: last.id } : {}),
  });
  return (
    <AdminLayout {...props} title="Webhook events" current="events">
      <form method="get" action="/admin/events" class="filters card">
        <div>
          <label for="filter-type">Event type</label>
          <input
            id="filter-type"
            name="type"
            type="search"
            value={f.type ?? ''}
            placeholder="e.g. invoice.paid"
          />
        </div>
        <div>
          <label for="filter-status">Status</label>
          <select id="filter-status" name="status">
            {[
              ['', 'Any'],
              ['handled', 'Handled'],
              ['failed', 'Failed'],
              ['pending', 'Waiting'],
            ].map(([value, label]) => (
              <option value={value} selected={(f.status ?? '') === value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <button type="submit" class="secondary">
            Filter
          </button>
        </div>
      </form>
      {props.events.length ? (
        <TableWrap label="Webhook events">
          <table>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Type</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Attempts
                </th>
                <th scope="col">Last error</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {props.events.map((e) => {
                const status = statusOf(e);
                return (
                  <tr data-scope data-event-id={e.id}>
                    <td>{dateTime(e.receivedAt)}</td>
                    <td>
                      <code>{e.type}</code>
                      <span class="sub">{e.id}</span>
                    </td>
                    <td>
                      <Badge
                        kind={EVENT_BADGE[status]}
                        text={e.ignored && status === 'handled' ? 'ignored' : status}
                      />
                    </td>
                    <td class="num">{count(e.attempts)}</td>
                    <td>{e.lastError ? <span class="sub">{e.lastError}</span> : '—'}</td>
                    <td class="actions-cell">
                      {status === 'handled' ? null : (
                        <button
                          type="button"
                          class="secondary small"
                          data-api={`/api/v1/admin/events/${encodeURIComponent(e.id)}/replay`}
                          data-success="Replay finished: {outcome}."
                          data-reload
                          aria-label={`Replay ${e.type} ${e.id}`}
                        >
                          Replay
                        </button>
                      )}
                      <p class="status" role="status" aria-live="polite" data-status />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      ) : (
        <p class="muted">No webhook events match.</p>
      )}
      {props.hasMore ? (
        <p class="pager">
          <a href={`/admin/events?${olderQuery.toString()}`}>Older events</a>
        </p>
      ) : null}
    </AdminLayout>
  );
}
