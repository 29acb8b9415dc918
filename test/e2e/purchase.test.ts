import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { ADMIN_PAYMENTS_PATH, ADMIN_REFUND_PATH } from '../../src/web/api-paths';
import { uniqueEmail } from '../harness';
import {
  adminContext,
  hasChromium,
  missingRoutes,
  PASSWORD,
  screenshot,
  signedInContext,
  startWebTestServer,
  type WebTestServer,
  watchPage,
} from './web-kit';

/**
 * Money flows in Chromium through the emulator's hosted checkout: buying a plan, cancel and resume, a
 * plan change with its preview, running out of credits and buying a pack, an admin refund. Each test
 * skips itself (naming the endpoints) until the checkout, subscriptions and payments modules serve the
 * routes it needs, and runs unchanged once they do.
 */
if (!hasChromium) console.warn('[purchase flows] skipped: /usr/bin/chromium is not installed');

const CHECKOUT = ['POST /api/v1/payments/checkout', 'GET /api/v1/payments/checkout/{session_id}'];
const STATUS = ['GET /api/v1/payments/subscription/status'];
const CANCEL_RESUME = [
  'POST /api/v1/payments/subscription/cancel',
  'POST /api/v1/payments/subscription/resume',
];
const CHANGE = ['POST /api/v1/payments/subscription/preview', 'POST /api/v1/payments/subscription/change'];
const ADMIN_REFUND = [`GET ${ADMIN_PAYMENTS_PATH}`, `POST ${ADMIN_REFUND_PATH}`];

let w: WebTestServer;

describe.skipIf(!hasChromium)('purchase flows in Chromium', () => {
  beforeAll(async () => {
    w = await startWebTestServer();
  }, 120_000);

  afterAll(async () => {
    await w?.close();
  });

  /** Skips the test while an endpoint it needs is missing, saying which. */
  async function needs(ctx: TestContext, routes: string[]) {
    const missing = await missingRoutes(w, routes);
    ctx.skip(missing.length > 0, `needs ${missing.join(', ')} (not built yet)`);
  }

  /** On the hosted checkout page: pay with 4242 and come back through /checkout/success to the account page. */
  async function payWith4242(page: Page) {
    const emulator = w.server.stripe.emulator!.url;
    await page.waitForURL((u) => u.toString().startsWith(emulator), { timeout: 15_000 });
    await page.fill('input[autocomplete="cc-number"]', '4242 4242 4242 4242');
    await Promise.all([
      page.waitForURL(`${w.url}/account/billing?purchased=1`, { timeout: 30_000 }),
      page.click('[data-testid="pay"]'),
    ]);
  }

  async function buyFromPricing(page: Page, lookupKey: string) {
    await page.goto(`${w.url}/pricing`);
    await page.click(`button[data-lookup-key="${lookupKey}"]`);
    await payWith4242(page);
  }

  it('signs up, buys pro_monthly with 4242 4242 4242 4242 and sees Pro and 100,000 tokens without a reload', async (ctx) => {
    await needs(ctx, [...CHECKOUT, ...STATUS]);
    const context = await w.browser.newContext();
    const page = await context.newPage();
    const watch = watchPage(page);
    try {
      await page.goto(`${w.url}/pricing`);
      await page.click('a[data-lookup-key="pro_monthly"]');
      await page.fill('#email', uniqueEmail('buyer'));
      await page.fill('#password', PASSWORD);
      await Promise.all([
        page.waitForURL(`${w.url}/pricing#pro_monthly`),
        page.click('form[action="/signup"] button[type="submit"]'),
      ]);
      await page.click('button[data-lookup-key="pro_monthly"]');
      await payWith4242(page);
      expect(await page.textContent('[data-testid="plan-name"]')).toBe('Pro');
      expect(await page.textContent('[data-testid="credits-ai_tokens"]')).toBe('100,000');
      await page.waitForSelector('#cancel-subscription:not([hidden])');
      expect(await page.textContent('[data-testid="subscription-summary"]')).toContain('Next bill on');
      await page.waitForSelector('[data-testid="payments"] [data-payment-id]');
      expect(await page.textContent('[data-testid="payments"]')).toContain('Paid');
      await screenshot(page, 'account-billing-pro');
      expect(watch.errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('cancels at the period end, resumes, and opens the billing portal from the account page', async (ctx) => {
    await needs(ctx, [...CHECKOUT, ...STATUS, ...CANCEL_RESUME, 'POST /api/v1/payments/portal']);
    const { context, page } = await signedInContext(w);
    page.on('dialog', (d) => void d.accept());
    try {
      await buyFromPricing(page, 'pro_monthly');
      await page.click('#cancel-subscription');
      await page.waitForSelector('#resume-subscription:not([hidden])');
      expect(await page.textContent('[data-testid="subscription-summary"]')).toContain('ending on');
      expect(await page.textContent('[data-testid="plan-status"]')).toContain('will end');
      expect(await page.textContent('[data-testid="plan-name"]')).toBe('Pro'); // access kept until the period ends
      await screenshot(page, 'account-billing-cancelled');
      await page.click('#resume-subscription');
      await page.waitForSelector('#cancel-subscription:not([hidden])');
      expect(await page.textContent('[data-testid="subscription-summary"]')).toContain('Next bill on');
      // The billing portal opens on Stripe's side (the emulator's portal page).
      await Promise.all([
        page.waitForURL((u) => u.toString().startsWith(w.server.stripe.emulator!.url)),
        page.click('#open-portal'),
      ]);
    } finally {
      await context.close();
    }
  });

  it('changes plan after a preview of the cost', async (ctx) => {
    await needs(ctx, [...CHECKOUT, ...STATUS, ...CHANGE]);
    const { context, page } = await signedInContext(w);
    try {
      await buyFromPricing(page, 'pro_monthly');
      // The pricing page knows the subscriber's plan and previews a switch instead of a second checkout.
      await page.goto(`${w.url}/pricing`);
      await page.waitForSelector('button[data-lookup-key="pro_monthly"]:disabled');
      await page.click('button[data-lookup-key="team_monthly"]');
      await page.waitForSelector('#plan-change-facts dt');
      expect(await page.textContent('#plan-change-facts')).toContain('Charged now');
      await page.click('#plan-change-dismiss');

      await page.goto(`${w.url}/account/billing`);
      await page.waitForSelector('#change-plan:not([hidden])');
      const team = await page.$eval(
        '#new-plan',
        (sel) =>
          [...(sel as HTMLSelectElement).options].find((o) => o.textContent?.startsWith('Team'))?.value,
      );
      await page.selectOption('#new-plan', team!);
      await page.click('#change-plan-form button[type="submit"]');
      await page.waitForSelector('#change-preview dt');
      expect(await page.textContent('[data-testid="change-preview"]')).toMatch(/Charged now\$\d/);
      await screenshot(page, 'account-billing-change-preview');
      await Promise.all([page.waitForEvent('load'), page.click('#confirm-change')]);
      await page.waitForSelector('[data-testid="plan-name"]');
      expect(await page.textContent('[data-testid="plan-name"]')).toBe('Team');
    } finally {
      await context.close();
    }
  });

  it('runs out of credits on /try, buys a pack and spends again', async (ctx) => {
    await needs(ctx, CHECKOUT);
    const { context, page } = await signedInContext(w);
    try {
      await page.goto(`${w.url}/try`);
      await page.click('#try-run');
      await page.waitForSelector('#try-out-of-credits:not([hidden])');
      expect(await page.textContent('#try-needed')).toBe('This run needs 1,000 tokens and you have 0.');
      await page.click('[data-testid="buy-credits"]');
      await payWith4242(page);
      expect(await page.textContent('[data-testid="credits-ai_tokens"]')).toBe('10,000');
      await page.goto(`${w.url}/try`);
      await page.click('#try-run');
      await page.waitForSelector('#try-result:not([hidden])');
      expect(await page.textContent('[data-testid="try-charge"]')).toBe('Used 1,000 tokens; 9,000 left.');
    } finally {
      await context.close();
    }
  });

  it('shows an admin the MRR, active subscriptions and revenue of real purchases', async (ctx) => {
    await needs(ctx, [...CHECKOUT, ...STATUS]);
    const buyer = await signedInContext(w);
    const admin = await adminContext(w);
    const dollars = async (testid: string) =>
      Number((await admin.page.textContent(`[data-testid="${testid}"]`))?.replace(/[$,]/g, ''));
    try {
      await buyFromPricing(buyer.page, 'pro_monthly');
      await admin.page.goto(`${w.url}/admin`);
      expect(await dollars('mrr')).toBeGreaterThanOrEqual(19);
      expect(
        Number(await admin.page.textContent('[data-testid="active-subscriptions"]')),
      ).toBeGreaterThanOrEqual(1);
      expect(await dollars('revenue')).toBeGreaterThanOrEqual(19);
      await admin.page.waitForSelector('#revenue-chart canvas');
      await screenshot(admin.page, 'admin-overview-revenue');
    } finally {
      await buyer.context.close();
      await admin.context.close();
    }
  });

  it('lets an admin refund a payment from the payments page', async (ctx) => {
    await needs(ctx, [...CHECKOUT, ...ADMIN_REFUND]);
    const buyer = await signedInContext(w);
    const admin = await adminContext(w);
    admin.page.on('dialog', (d) => void d.accept());
    try {
      await buyFromPricing(buyer.page, 'credits_10k');
      await admin.page.goto(`${w.url}/admin/payments`);
      // The buyer's payment (each row links to its customer).
      const row = admin.page.locator(
        `tr[data-status="succeeded"]:has(a[href="/admin/customers/${buyer.userId}"])`,
      );
      await row.waitFor();
      expect(await row.locator('a').textContent()).toBe(buyer.email);
      await screenshot(admin.page, 'admin-payments-before-refund');
      await row.locator('summary:has-text("Refund")').click();
      await row.locator('button:has-text("Refund")').click();
      const refunded = `tr[data-status="refunded"]:has(a[href="/admin/customers/${buyer.userId}"])`;
      await admin.page.waitForSelector(refunded);
      expect(await admin.page.textContent(`${refunded} [data-testid="payment-status"]`)).toBe('Refunded');
      await buyer.page.goto(`${w.url}/account/billing`);
      await buyer.page.waitForSelector('[data-testid="payments"] [data-payment-id]');
      expect(await buyer.page.textContent('[data-testid="payments"]')).toContain('Refunded');
    } finally {
      await buyer.context.close();
      await admin.context.close();
    }
  });
});
