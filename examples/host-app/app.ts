import { Hono } from 'hono';
import type { CreditsVariables, Paywire } from '../../src/index';

/**
 * A host application: its own Hono app, with Paywire mounted under /billing (the whole API, pages and
 * the Stripe webhook endpoint at /billing/api/v1/webhooks/stripe) and two of its own routes gated by
 * Paywire - one charges credits, one needs a plan feature.
 *
 * Who the user is stays the host's business. This one accepts a Paywire session token or API key
 * (`Authorization: Bearer ...`), which is what a host using Paywire's sign-up gets; a host with its own
 * accounts would map its user to a Paywire user id here instead.
 */
type HostEnv = { Variables: CreditsVariables & { userId: string } };

export function createHostApp(paywire: Paywire) {
  const host = new Hono<HostEnv>();

  // Paywire sees requests as if it were at the root: /billing/api/v1/... -> /api/v1/...
  host.mount('/billing', paywire.app.fetch);

  // The host's own authentication for its /api routes.
  host.use('/api/*', async (c, next) => {
    const token = /^Bearer (\S+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    const principal = token ? await paywire.auth.authenticate(token) : null;
    if (!principal) return c.json({ error: 'sign in first' }, 401);
    c.set('userId', principal.user.id);
    return next();
  });
  const user = (c: { get(key: 'userId'): string }) => c.get('userId');

  host.get('/', (c) => c.text('Acme Writer: /api/generate costs 500 tokens, /api/export needs a Pro plan'));

  // Costs 500 ai_tokens: held before the handler runs (402 when short), charged only if it succeeds.
  host.post(
    '/api/generate',
    paywire.requireCredits('ai_tokens', 500, { description: 'generate a draft', user }),
    (c) => {
      const charge = c.get('credits');
      return c.json({
        draft: 'Once upon a time...',
        charged: charge.credits_consumed,
        left: charge.remaining_balance,
      });
    },
  );

  // Only for plans that include the `export` feature (403 otherwise).
  host.get('/api/export', paywire.requireFeature('export', { user }), (c) =>
    c.json({ format: 'csv', rows: 3 }),
  );

  // The same question asked in code, for a page that adapts instead of refusing.
  host.get('/api/plan', async (c) => {
    const id = c.get('userId');
    const { tier } = await paywire.entitlements.summary(id);
    return c.json({ tier, can_export: await paywire.can(id, 'export') });
  });

  return host;
}
