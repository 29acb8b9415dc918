import type { Hono, MiddlewareHandler } from 'hono';
import { builtinJobs } from '../../jobs';
import { isUuid } from '../../lib/ids';
import { listPrices, listProducts, listTiers } from '../../modules/catalog/catalog.service';
import { getBalances, listTransactions } from '../../modules/credits/credits.queries';
import { knownCreditTypes } from '../../modules/credits/credits.types';
import { listDiscounts } from '../../modules/discounts/discounts.service';
import { listEntitlements, summary } from '../../modules/entitlements/entitlements.service';
import { toView } from '../../modules/entitlements/entitlements.types';
import { findUserByEmail, getUser, listUsers } from '../../modules/users/users.service';
import { listEvents } from '../../webhooks/inbox-queries';
import { usageCharts } from '../data/account';
import { loadOverview, recentJobRuns } from '../data/metrics';
import { loadOffers, offerLabel } from '../data/offers';
import type { WebEnv } from '../env';
import { money } from '../format';
import { AdminEventsPage, AdminJobsPage, AdminOverviewPage } from '../pages/admin';
import { AdminCatalogPage } from '../pages/admin-catalog';
import { AdminDiscountsPage } from '../pages/admin-discounts';
import { AdminCustomerPage, AdminCustomersPage } from '../pages/admin-customers';
import { AdminPaymentsPage } from '../pages/admin-payments';
import { forbiddenPage, frameOf, notFoundPage, pageHeaders, renderPage } from '../render';
import { pagePrincipal, requireUser } from '../session';

/** A signed-in non-admin gets the 403 page; a logged-out visitor is sent to log in first. */
const requireAdmin: MiddlewareHandler<WebEnv> = async (c, next) => {
  if (c.get('principal')?.user.role !== 'admin') return forbiddenPage(c);
  await next();
};

const EVENT_STATUSES = new Set(['handled', 'failed', 'pending']);

/** The admin pages: read through the modules' services, act through their admin JSON API. */
export function registerAdminPages(web: Hono<WebEnv>) {
  const admin = [pageHeaders, pagePrincipal, requireUser, requireAdmin] as const;

  web.get('/admin', ...admin, async (c) => {
    const deps = c.get('deps');
    const [overview, runs] = await Promise.all([loadOverview(deps), recentJobRuns(deps, 8)]);
    return renderPage(c, <AdminOverviewPage {...frameOf(c)} overview={overview} runs={runs} />);
  });

  web.get('/admin/catalog', ...admin, async (c) => {
    const db = c.get('deps').db;
    const [tiers, products, prices] = await Promise.all([
      listTiers(db),
      listProducts(db, { includeInactive: true }),
      listPrices(db, { includeInactive: true }),
    ]);
    return renderPage(
      c,
      <AdminCatalogPage {...frameOf(c)} tiers={tiers} products={products} prices={prices} />,
    );
  });

  web.get('/admin/discounts', ...admin, async (c) => {
    const deps = c.get('deps');
    const [page, offers] = await Promise.all([listDiscounts(deps, { limit: 100 }), loadOffers(deps.db)]);
    const prices = [...offers.plans, ...offers.extras].map((o) => ({
      id: o.priceId,
      label: `${offerLabel(o)} (${money(o.amount, o.currency)})`,
    }));
    return renderPage(c, <AdminDiscountsPage {...frameOf(c)} discounts={page.data} prices={prices} />);
  });

  web.get('/admin/customers', ...admin, async (c) => {
    const db = c.get('deps').db;
    const email = c.req.query('email')?.trim().slice(0, 254);
    if (email) {
      const found = await findUserByEmail(db, email);
      if (found) return c.redirect(`/admin/customers/${found.id}`, 303);
    }
    const after = c.req.query('starting_after');
    const page = await listUsers(db, {
      limit: 50,
      startingAfter: after && isUuid(after) ? after : undefined,
    });
    return renderPage(
      c,
      <AdminCustomersPage
        {...frameOf(c)}
        users={page.data}
        next={page.has_more ? (page.data.at(-1)?.id ?? null) : null}
        search={email}
        notFound={!!email}
      />,
    );
  });

  // For admin-payments.js: who the payments belong to (the payments API answers user ids).
  web.get('/admin/customers/emails', ...admin, async (c) => {
    const db = c.get('deps').db;
    const ids = [...new Set((c.req.query('ids') ?? '').split(',').filter(isUuid))].slice(0, 100);
    const users = await Promise.all(ids.map((id) => getUser(db, id)));
    return c.json({ emails: Object.fromEntries(users.flatMap((u) => (u ? [[u.id, u.email]] : []))) });
  });

  web.get('/admin/customers/:id', ...admin, async (c) => {
    const deps = c.get('deps');
    const id = c.req.param('id');
    const user = isUuid(id) ? await getUser(deps.db, id) : undefined;
    if (!user) return notFoundPage(c);
    const now = deps.clock.now();
    const [plan, rows, balances, ledger] = await Promise.all([
      summary(deps, user.id),
      listEntitlements(deps, user.id, { includeInactive: true }),
      getBalances(deps, user.id),
      listTransactions(deps, { userId: user.id, limit: 500 }),
    ]);
    return renderPage(
      c,
      <AdminCustomerPage
        {...frameOf(c)}
        creditTypes={[...knownCreditTypes(deps.config)]}
        customer={{
          user,
          tier: plan.tier,
          entitlements: rows.map((r) => toView(r, now)),
          balances,
          ledger: ledger.data.slice(0, 50),
          charts: usageCharts(ledger.data, now),
        }}
      />,
    );
  });

  web.get('/admin/payments', ...admin, async (c) => {
    const offers = await loadOffers(c.get('deps').db);
    const priceLabels = Object.fromEntries(
      [...offers.plans, ...offers.extras].map((o) => [o.priceId, offerLabel(o)]),
    );
    return renderPage(c, <AdminPaymentsPage {...frameOf(c)} priceLabels={priceLabels} />);
  });

  web.get('/admin/events', ...admin, async (c) => {
    const type = c.req.query('type')?.trim().slice(0, 100) || undefined;
    const rawStatus = c.req.query('status');
    const status =
      rawStatus && EVENT_STATUSES.has(rawStatus)
        ? (rawStatus as 'handled' | 'failed' | 'pending')
        : undefined;
    const after = c.req.query('starting_after');
    const page = await listEvents(c.get('deps').db, {
      type,
      status,
      limit: 50,
      startingAfter: after && /^evt_[A-Za-z0-9_]{1,250}$/.test(after) ? after : undefined,
    });
    return renderPage(
      c,
      <AdminEventsPage
        {...frameOf(c)}
        events={page.data}
        hasMore={page.has_more}
        filters={{ type, status }}
      />,
    );
  });

  web.get('/admin/jobs', ...admin, async (c) => {
    const runs = await recentJobRuns(c.get('deps'), 100);
    const jobs = builtinJobs().map((j) => ({ name: j.name, everyMs: j.everyMs }));
    return renderPage(c, <AdminJobsPage {...frameOf(c)} runs={runs} jobs={jobs} />);
  });
}
