import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantCredits } from '../../src/modules/credits/credits.service';
import { getBalance } from '../../src/modules/credits/credits.queries';
import { recordEvent } from '../../src/webhooks/inbox';
import { uniqueEmail } from '../harness';
import {
  adminContext,
  apiCall,
  hasChromium,
  PASSWORD,
  screenshot,
  signedInContext,
  startWebTestServer,
  type WebTestServer,
  watchPage,
} from './web-kit';

/**
 * The web pages in Chromium against a real server: sign-up, log-in and log-out through the forms, the
 * log-in redirect and its way back, the admin 403 page, escaping of product names, and /try spending
 * credits through requireCredits until the 402 state. Screenshots go to test-results/screenshots/.
 */
if (!hasChromium) console.warn('[web pages] skipped: /usr/bin/chromium is not installed');

const ADMIN_PAGES = [
  '/admin',
  '/admin/catalog',
  '/admin/discounts',
  '/admin/customers',
  '/admin/payments',
  '/admin/events',
  '/admin/jobs',
];
const XSS_NAME = '<script>alert(1)</script>';
const XSS_DESCRIPTION = '<img src=x onerror="alert(2)">';

let w: WebTestServer;
let admin: Awaited<ReturnType<typeof adminContext>>;

describe.skipIf(!hasChromium)('web pages in Chromium', () => {
  beforeAll(async () => {
    w = await startWebTestServer();
    admin = await adminContext(w);
  }, 120_000);

  afterAll(async () => {
    await admin?.context.close();
    await w?.close();
  });

  it('signs up, logs out and logs back in through the forms, with sentences for mistakes', async () => {
    const context = await w.browser.newContext();
    const page = await context.newPage();
    const watch = watchPage(page);
    const email = uniqueEmail('form');
    try {
      await page.goto(`${w.url}/`);
      await screenshot(page, 'home');
      await page.click('header >> text=Sign up');
      await page.fill('#email', email);
      await page.fill('#password', 'short');
      await page.click('form[action="/signup"] button[type="submit"]');
      expect(await page.textContent('#password-error')).toContain('at least 10 characters');
      expect(await page.getAttribute('#password', 'aria-invalid')).toBe('true');
      expect(await page.inputValue('#email')).toBe(email);

      await page.fill('#password', PASSWORD);
      await Promise.all([
        page.waitForURL(`${w.url}/account/billing`),
        page.click('form[action="/signup"] button[type="submit"]'),
      ]);
      expect(await page.textContent('[data-testid="viewer-email"]')).toBe(email);
      expect(await page.textContent('[data-testid="plan-name"]')).toBe('Free');
      await screenshot(page, 'account-billing-free');

      await Promise.all([page.waitForURL(`${w.url}/`), page.click('header button:has-text("Log out")')]);
      expect(await page.isVisible('header a[href="/login"]')).toBe(true);

      await page.goto(`${w.url}/login`);
      await page.fill('#email', email);
      await page.fill('#password', 'not the password');
      await page.click('form[action="/login"] button[type="submit"]');
      const error = await page.textContent('[data-testid="form-error"]');
      expect(error).toBe('That email and password do not match an account.');
      expect(await page.textContent('body')).not.toContain('"error"');
      await screenshot(page, 'login-error');

      // Keyboard only: type, Tab to the password, Enter submits.
      await page.focus('#email');
      await page.keyboard.press('Control+A');
      await page.keyboard.type(email);
      await page.keyboard.press('Tab');
      await page.keyboard.type(PASSWORD);
      await Promise.all([page.waitForURL(`${w.url}/account/billing`), page.keyboard.press('Enter')]);
      expect(watch.errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('sends a logged-out visitor to log in and back to the page, never to another site', async () => {
    const context = await w.browser.newContext();
    const page = await context.newPage();
    const email = uniqueEmail('next');
    await apiCall(w, '', 'POST', '/api/v1/auth/signup', { email, password: PASSWORD });
    try {
      await page.goto(`${w.url}/try`);
      expect(page.url()).toBe(`${w.url}/login?next=%2Ftry`);
      expect(await page.textContent('main')).toContain('Please log in to continue.');
      await page.fill('#email', email);
      await page.fill('#password', PASSWORD);
      await Promise.all([
        page.waitForURL(`${w.url}/try`),
        page.click('form[action="/login"] button[type="submit"]'),
      ]);
      expect(await page.textContent('h1')).toBe('Try the AI feature');

      // A crafted next= pointing elsewhere lands on the account page instead.
      await page.click('header button:has-text("Log out")');
      await page.waitForURL(`${w.url}/`);
      await page.goto(`${w.url}/login?next=${encodeURIComponent('//evil.example/steal')}`);
      await page.fill('#email', email);
      await page.fill('#password', PASSWORD);
      await Promise.all([
        page.waitForURL(`${w.url}/account/billing`),
        page.click('form[action="/login"] button[type="submit"]'),
      ]);
    } finally {
      await context.close();
    }
  });

  it('shows a signed-in non-admin the 403 page on every admin page', async () => {
    const { context, page } = await signedInContext(w);
    try {
      for (const path of ADMIN_PAGES) {
        const res = await page.goto(`${w.url}${path}`);
        expect(res?.status(), path).toBe(403);
        expect(await page.textContent('[data-testid="error-page"] h1'), path).toBe('Not allowed');
        expect(await page.isVisible('header a[href="/admin"]')).toBe(false);
      }
      await screenshot(page, 'admin-403');
    } finally {
      await context.close();
    }
  });

  it('renders a product named <script>alert(1)</script> as text on every page that shows products', async () => {
    const product = await apiCall(w, admin.token, 'POST', '/api/v1/admin/products', {
      name: XSS_NAME,
      description: XSS_DESCRIPTION,
      product_type: 'subscription',
      local_only: true,
    });
    expect(product.status).toBe(201);
    const price = await apiCall(w, admin.token, 'POST', '/api/v1/admin/prices', {
      product_id: product.body.id,
      unit_amount: 700,
      currency: 'usd',
      price_type: 'recurring',
      billing_interval: 'month',
      lookup_key: 'xss_monthly',
      local_only: true,
    });
    expect(price.status).toBe(201);

    const user = await signedInContext(w);
    const pages: Array<[typeof user.page, string]> = [
      [user.page, '/pricing'],
      [user.page, '/account/billing'],
      [admin.page, '/admin/catalog'],
      [admin.page, '/admin/discounts'],
      [admin.page, '/admin/payments'],
      [admin.page, '/pricing'],
    ];
    try {
      for (const [page, path] of pages) {
        const watch = watchPage(page);
        await page.goto(`${w.url}${path}`);
        await page.waitForLoadState('networkidle');
        const html = await page.content();
        expect(html, path).not.toContain(XSS_NAME);
        expect(html, path).not.toContain('<img src=x');
        expect(await page.$$eval('img', (imgs) => imgs.length), path).toBe(0);
        expect(watch.dialogs, path).toEqual([]);
        expect(watch.errors, path).toEqual([]);
        if (path === '/pricing' || path === '/admin/catalog') {
          const names = await page.$$eval('[data-testid="product-name"]', (els) =>
            els.map((e) => e.textContent),
          );
          expect(names, path).toContain(XSS_NAME);
        }
        if (path === '/account/billing') {
          const options = await page.$$eval('#new-plan option', (els) => els.map((e) => e.textContent ?? ''));
          expect(
            options.some((o) => o.startsWith(XSS_NAME)),
            path,
          ).toBe(true);
        }
      }
      await user.page.goto(`${w.url}/pricing`);
      expect(await user.page.textContent('body')).toContain(XSS_DESCRIPTION);
    } finally {
      await user.context.close();
      // Archive it again so the screenshots of later tests show the demo catalog only.
      await apiCall(w, admin.token, 'DELETE', `/api/v1/admin/products/${product.body.id}`);
    }
  });

  it('shows the pricing page from the catalog with plan buttons for the emulator-facing tests', async () => {
    const { context, page } = await signedInContext(w);
    try {
      await page.goto(`${w.url}/pricing`);
      for (const key of [
        'pro_monthly',
        'pro_yearly',
        'team_monthly',
        'credits_10k',
        'analytics_addon',
        'lifetime_pro',
      ]) {
        expect(await page.isVisible(`button[data-lookup-key="${key}"]`), key).toBe(true);
      }
      expect(await page.textContent('#pro_monthly')).toContain('$19.00');
      expect(await page.textContent('#pro_monthly')).toContain('100,000 AI tokens every month');
      await page.fill('#discount-code', 'NOPE-NOT-A-CODE');
      await page.click('#discount-form button[type="submit"]');
      await page.waitForSelector('[data-testid="discount-status"].error');
      expect(await page.textContent('[data-testid="discount-status"]')).toBe(
        'We do not recognise this discount code.',
      );
      await page.fill('#discount-code', 'welcome20');
      await page.click('#discount-form button[type="submit"]');
      await page.waitForSelector('[data-testid="discount-status"].success');
      expect(await page.textContent('[data-testid="discount-status"]')).toContain('$15.20 instead of $19.00');
      await screenshot(page, 'pricing');
    } finally {
      await context.close();
    }
  });

  it('lets an admin create a discount code (a duplicate gets a sentence) and replay a waiting webhook event', async () => {
    const page = admin.page;
    page.on('dialog', (d) => void d.accept().catch(() => {}));
    await page.goto(`${w.url}/admin/discounts`);
    const create = async (code: string) => {
      await page.fill('#discount-code', code);
      await page.fill('#discount-value', '15');
      await page.click('form[data-api="/api/v1/admin/discounts"] button[type="submit"]');
    };
    await create('SPRING15');
    await page.waitForSelector('td code:has-text("SPRING15")');
    await create('spring15');
    await page.waitForSelector('form[data-api="/api/v1/admin/discounts"] [data-status].error');
    expect(await page.textContent('form[data-api="/api/v1/admin/discounts"] [data-status]')).toBe(
      'That conflicts with something that already exists.',
    );

    const id = `evt_web_${Date.now()}`;
    await recordEvent(w.server.deps, {
      id,
      object: 'event',
      type: 'customer.created',
      api_version: '2026-10-28.endive',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 0,
      request: { id: null, idempotency_key: null },
      data: { object: { id: 'cus_web', object: 'customer' } },
    } as unknown as Stripe.Event);
    await page.goto(`${w.url}/admin/events?status=pending`);
    const row = page.locator(`tr[data-event-id="${id}"]`);
    // The page reloads itself 600 ms after the replay (data-reload): a navigation started before that
    // reload would be aborted by it, so wait for it (the replay's own request does not navigate).
    const reloaded = page.waitForEvent('load');
    await row.locator('button:has-text("Replay")').click();
    await row.locator('[data-status].success').waitFor();
    expect(await row.locator('[data-status]').textContent()).toBe('Replay finished: ignored.');
    await reloaded;
    expect(page.url()).toBe(`${w.url}/admin/events?status=pending`);
    await page.goto(`${w.url}/admin/events?type=customer.created`);
    expect(await page.textContent(`tr[data-event-id="${id}"]`)).toContain('ignored');
  });

  it('spends 1,000 AI tokens per run on /try and shows the out-of-credits state with a way to buy more', async () => {
    const { context, page, userId } = await signedInContext(w);
    const deps = w.server.deps;
    await grantCredits(deps, {
      userId,
      creditType: 'ai_tokens',
      amount: 1500,
      pool: 'bonus',
      description: 'test',
    });
    const watch = watchPage(page);
    try {
      await page.goto(`${w.url}/try`);
      expect(await page.textContent('[data-testid="try-balance"]')).toBe('1,500');
      await page.fill('#prompt', 'A haiku about <b>invoices</b>');
      await page.click('#try-run');
      await page.waitForSelector('#try-result:not([hidden])');
      expect(await page.textContent('[data-testid="try-output"]')).toContain('A haiku about <b>invoices</b>');
      expect(await page.textContent('[data-testid="try-charge"]')).toBe('Used 1,000 tokens; 500 left.');
      expect(await page.textContent('[data-testid="try-balance"]')).toBe('500');
      await screenshot(page, 'try-result');

      await page.click('#try-run');
      await page.waitForSelector('#try-out-of-credits:not([hidden])');
      expect(await page.textContent('#try-needed')).toBe('This run needs 1,000 tokens and you have 500.');
      expect(await page.getAttribute('[data-testid="buy-credits"]', 'data-lookup-key')).toBe('credits_10k');
      expect(await page.getAttribute('#try-out-of-credits a', 'href')).toBe('/pricing#credits_10k');
      expect(await page.isVisible('#try-result')).toBe(false);
      await screenshot(page, 'try-out-of-credits');
      expect((await getBalance(deps, userId, 'ai_tokens')).available).toBe(500);
      expect(watch.errors).toEqual([]);

      // The account page charts and lists the ledger the runs wrote.
      await page.goto(`${w.url}/account/billing`);
      expect(await page.textContent('[data-testid="credits-ai_tokens"]')).toBe('500');
      await page.waitForSelector('#usage-ai_tokens canvas');
      expect(await page.textContent('main')).toContain('Try the AI feature');
      await screenshot(page, 'account-billing-credits');
    } finally {
      await context.close();
    }
  });

  it('works without scripts: the /try form posts and shows the result or the 402 state as a page', async () => {
    const { userId, token, context: unused } = await signedInContext(w);
    await unused.close();
    await grantCredits(w.server.deps, { userId, creditType: 'ai_tokens', amount: 1000, pool: 'bonus' });
    const context = await w.browser.newContext({ javaScriptEnabled: false });
    await context.addCookies([{ name: 'paywire_session', value: token, url: w.url }]);
    const page = await context.newPage();
    try {
      await page.goto(`${w.url}/try`);
      await Promise.all([page.waitForURL(`${w.url}/try/generate`), page.click('#try-run')]);
      expect(await page.textContent('[data-testid="try-charge"]')).toBe('Used 1,000 tokens; 0 left.');
      const res = await Promise.all([page.waitForResponse(`${w.url}/try/generate`), page.click('#try-run')]);
      expect(res[0].status()).toBe(402);
      expect(await page.isVisible('[data-testid="out-of-credits"]')).toBe(true);
      expect(await page.textContent('#try-needed')).toBe('This run needs 1,000 tokens and you have 0.');
    } finally {
      await context.close();
    }
  });

  it('renders every admin page for an admin, readable at 375 px without sideways scrolling', async () => {
    const watch = watchPage(admin.page);
    for (const path of ADMIN_PAGES) {
      const res = await admin.page.goto(`${w.url}${path}`);
      expect(res?.status(), path).toBe(200);
      await admin.page.waitForLoadState('networkidle');
      await screenshot(admin.page, `admin-${path.split('/')[2] ?? 'overview'}`);
    }
    await admin.page.goto(`${w.url}/admin/customers`);
    await admin.page.click(`a:has-text("${admin.email}")`);
    await admin.page.waitForSelector('[data-testid="customer-tier"]');
    await screenshot(admin.page, 'admin-customer');
    expect(watch.errors).toEqual([]);

    const phone = await signedInContext(w, { viewport: { width: 375, height: 800 } });
    try {
      for (const path of ['/', '/pricing', '/account/billing', '/try']) {
        await phone.page.goto(`${w.url}${path}`);
        await phone.page.waitForLoadState('networkidle');
        const overflow = await phone.page.evaluate(
          () => document.documentElement.scrollWidth - window.innerWidth,
        );
        expect(overflow, path).toBeLessThanOrEqual(0);
        await screenshot(phone.page, `phone${path === '/' ? '-home' : path.replaceAll('/', '-')}`);
      }
    } finally {
      await phone.context.close();
    }
  });
});
