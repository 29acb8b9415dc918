import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index';
import { startTestEmulator } from '../../src/emulator/testing';

/**
 * The hosted checkout page in a real browser (Debian's Chromium): pay with 4242 4242 4242 4242 and land
 * on the success URL with the session id filled in; a declining card shows the decline and stays.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`[emulator-checkout] skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);

let emu: Emulator;
let stripe: Stripe;
let browser: Browser;
let successServer: ReturnType<typeof createServer>;
let appUrl: string;

describe.skipIf(!hasChromium)('hosted checkout in Chromium', () => {
  beforeAll(async () => {
    ({ emu, stripe } = await startTestEmulator());
    successServer = createServer((req, res) => {
      res
        .writeHead(200, { 'Content-Type': 'text/html' })
        .end(`<!doctype html><h1 id="done">Thanks!</h1><p id="url">${req.url}</p>`);
    });
    await new Promise<void>((r) => successServer.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(successServer.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-gpu',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (successServer ? successServer.close(() => r()) : r()));
    await emu?.close();
  });

  async function newSession(): Promise<Stripe.Checkout.Session> {
    const product = await stripe.products.create({ name: 'Pro plan (one-off)' });
    const price = await stripe.prices.create({ product: product.id, currency: 'usd', unit_amount: 2900 });
    return stripe.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price: price.id, quantity: 1 }],
      customer_email: 'browser@example.com',
      success_url: `${appUrl}/success?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${appUrl}/cancel`,
    });
  }

  it('pays with 4242 4242 4242 4242 and lands on the success URL', async () => {
    const session = await newSession();
    const page = await browser.newPage();
    try {
      await page.goto(session.url as string);
      expect(await page.textContent('body')).toContain('$29.00');
      await page.fill('input[autocomplete="cc-number"]', '4242 4242 4242 4242');
      await Promise.all([page.waitForURL(`${appUrl}/success**`), page.click('[data-testid="pay"]')]);
      expect(page.url()).toBe(`${appUrl}/success?session_id=${session.id}`);
      expect(await page.textContent('#done')).toBe('Thanks!');
      const done = await stripe.checkout.sessions.retrieve(session.id);
      expect(done).toMatchObject({ status: 'complete', payment_status: 'paid' });
    } finally {
      await page.close();
    }
  });

  it('shows the decline for 4000000000000002 and stays on the page', async () => {
    const session = await newSession();
    const page = await browser.newPage();
    try {
      await page.goto(session.url as string);
      await page.fill('input[autocomplete="cc-number"]', '4000000000000002');
      await page.click('[data-testid="pay"]');
      await page.waitForSelector('[data-testid="error"]');
      expect(await page.textContent('[data-testid="error"]')).toContain('Your card was declined.');
      expect(page.url().startsWith(emu.url)).toBe(true);
      expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
      // The cancel link goes back to the app.
      expect(await page.getAttribute('[data-testid="cancel"]', 'href')).toBe(`${appUrl}/cancel`);
    } finally {
      await page.close();
    }
  });
});
