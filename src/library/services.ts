import type Stripe from 'stripe';
import type { Tx } from '../db/client';
import type { Deps } from '../deps';
import { authenticate, createApiKey, login, signup } from '../modules/auth/auth.service';
import {
  getPrice,
  getPriceByLookupKey,
  listPrices,
  listProducts,
  publicCatalog,
} from '../modules/catalog/catalog.service';
import type { CatalogFile } from '../modules/catalog/catalog-file';
import { diffCatalog, pullCatalog, pushCatalog } from '../modules/catalog/sync';
import { checkoutStatus, createCheckout } from '../modules/checkout/checkout.service';
import { getBalance, getBalances, listTransactions } from '../modules/credits/credits.queries';
import {
  adjustCredits,
  commitReservation,
  consume,
  grantCredits,
  releaseReservation,
  reserve,
  transferCredits,
} from '../modules/credits/credits.service';
import { validateDiscount } from '../modules/discounts/discounts.service';
import {
  can,
  check,
  explain,
  grant,
  limit,
  listEntitlements,
  revoke,
  summary,
  transact,
} from '../modules/entitlements/entitlements.service';
import { type ListPaymentsQuery, getPayment, listPayments } from '../modules/payments/payments.service';
import { requestRefund } from '../modules/payments/refund-request';
import { cancelSubscription, portalSession, resumeSubscription } from '../modules/subscriptions/cancel';
import { changePlan, previewChange } from '../modules/subscriptions/change';
import { latestSubscriptionOf, statusView } from '../modules/subscriptions/subscriptions.service';
import { syncFromStripe } from '../modules/sync/sync.service';
import { createUser, findUserByEmail, getUser } from '../modules/users/users.service';
import { receiveEvent, replayEvent, retryUnhandledEvents } from '../webhooks/inbox';
import { verifyStripeEvent } from '../webhooks/verify';

// biome-ignore lint/suspicious/noExplicitAny: binds any service whose first parameter is its dependencies
type Service = (deps: any, ...args: any[]) => any;
type Bound<F extends Service> = F extends (deps: never, ...args: infer A) => infer R
  ? (...args: A) => R
  : never;

const bind = <F extends Service>(deps: Deps, f: F): Bound<F> =>
  // biome-ignore lint/suspicious/noExplicitAny: see Service
  ((...args: any[]) => f(deps, ...args)) as Bound<F>;
const bindDb = <F extends Service>(deps: Deps, f: F): Bound<F> =>
  // biome-ignore lint/suspicious/noExplicitAny: see Service
  ((...args: any[]) => f(deps.db, ...args)) as Bound<F>;
/** A service that writes inside a caller's transaction, run in its own one. */
const inTransaction =
  <A extends unknown[], R>(deps: Deps, f: (deps: Deps, tx: Tx, ...args: A) => Promise<R>) =>
  (...args: A): Promise<R> =>
    transact(deps, (tx) => f(deps, tx, ...args));

/** The services of every module, bound to one set of dependencies (what `createPaywire` returns). */
export function bindServices(deps: Deps) {
  return {
    users: {
      create: bindDb(deps, createUser),
      get: bindDb(deps, getUser),
      findByEmail: bindDb(deps, findUserByEmail),
    },
    auth: {
      signup: bind(deps, signup),
      login: bind(deps, login),
      /** A session token or API key -> the principal, or null. */
      authenticate: bind(deps, authenticate),
      createApiKey: bind(deps, createApiKey),
    },
    catalog: {
      /** The public catalog: active tiers, products and prices. */
      get: () => publicCatalog(deps.db),
      listProducts: bindDb(deps, listProducts),
      listPrices: bindDb(deps, listPrices),
      getPrice: bindDb(deps, getPrice),
      getPriceByLookupKey: bindDb(deps, getPriceByLookupKey),
      pull: bind(deps, pullCatalog),
      push: (file: CatalogFile) => pushCatalog(deps, file),
      diff: (file: CatalogFile) => diffCatalog(deps, file),
    },
    checkout: {
      create: bind(deps, createCheckout),
      status: bind(deps, checkoutStatus),
    },
    payments: {
      list: (query: ListPaymentsQuery) => listPayments(deps.db, query),
      get: bindDb(deps, getPayment),
      refund: bind(deps, requestRefund),
    },
    subscriptions: {
      /** What `GET /payments/subscription/status` answers for the user. */
      status: async (userId: string) => statusView(await latestSubscriptionOf(deps.db, userId), deps),
      cancel: bind(deps, cancelSubscription),
      resume: bind(deps, resumeSubscription),
      preview: bind(deps, previewChange),
      change: bind(deps, changePlan),
      portal: bind(deps, portalSession),
    },
    entitlements: {
      can: bind(deps, can),
      check: bind(deps, check),
      limit: bind(deps, limit),
      summary: bind(deps, summary),
      explain: bind(deps, explain),
      list: bind(deps, listEntitlements),
      grant: inTransaction(deps, grant),
      revoke: inTransaction(deps, revoke),
    },
    credits: {
      balance: bind(deps, getBalance),
      balances: bind(deps, getBalances),
      transactions: bind(deps, listTransactions),
      consume: bind(deps, consume),
      reserve: bind(deps, reserve),
      commit: bind(deps, commitReservation),
      release: bind(deps, releaseReservation),
      grant: bind(deps, grantCredits),
      adjust: bind(deps, adjustCredits),
      transfer: bind(deps, transferCredits),
    },
    discounts: {
      validate: bind(deps, validateDiscount),
    },
    webhooks: {
      /** Verifies a raw webhook body and runs it through the inbox (what the webhook route does). */
      receive: async (rawBody: Buffer | string, signature: string | undefined) =>
        receiveEvent(deps, await verifyStripeEvent(deps, Buffer.from(rawBody), signature)),
      /** Runs an already verified event through the inbox. */
      receiveEvent: (event: Stripe.Event) => receiveEvent(deps, event),
      replay: bind(deps, replayEvent),
      retryUnhandled: bind(deps, retryUnhandledEvents),
    },
    /** `paywire sync`: converge local state with Stripe after a webhook outage. */
    sync: bind(deps, syncFromStripe),
    /** Shortcuts: may this user use the feature? The detailed question. */
    can: bind(deps, can),
    check: bind(deps, check),
  };
}

export type PaywireServices = ReturnType<typeof bindServices>;
