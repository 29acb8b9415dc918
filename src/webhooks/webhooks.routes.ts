import { z } from '@hono/zod-openapi';
import { defineRoute } from '../http/auth';
import { rawBody } from '../http/body';
import { createRouter } from '../http/router';
import { notFound } from '../lib/errors';
import { receiveEvent, replayEvent } from './inbox';
import { eventJson, getEvent, listEvents } from './inbox-queries';
import { verifyStripeEvent } from './verify';

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const EventSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    status: z.enum(['handled', 'failed', 'pending']),
    api_version: z.string().nullable(),
    livemode: z.boolean(),
    created: z.string(),
    received_at: z.string(),
    handled_at: z.string().nullable(),
    ignored: z.boolean(),
    attempts: z.number(),
    last_error: z.string().nullable(),
    last_error_at: z.string().nullable(),
    payload: z.unknown().optional(),
  })
  .openapi('StripeEvent');

const EventIdParam = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a Stripe event id such as evt_123'),
});

/** The Stripe webhook endpoint (public, signature-checked) and the admin event inbox. */
export function webhookRoutes() {
  const app = createRouter();

  app.openapi(
    defineRoute(
      { auth: 'public' },
      {
        method: 'post',
        path: '/webhooks/stripe',
        tags: ['webhooks'],
        summary: 'Stripe webhook endpoint (raw body, Stripe-Signature checked against STRIPE_WEBHOOK_SECRET)',
        description:
          'The event is stored before any work, then handled once in a transaction. 200: handled (or a ' +
          'duplicate of a handled event); 400: bad, stale or missing signature (nothing written); ' +
          '409: another copy is still being processed; 500: the handler failed (recorded; Stripe retries).',
        responses: {
          200: json(z.object({ received: z.boolean(), status: z.string() }), 'Accepted'),
          409: json(z.any(), 'Being processed'),
          500: json(z.any(), 'Handler failed'),
        },
      },
    ),
    async (c) => {
      const deps = c.get('deps');
      const gauge = deps.metrics?.webhooksInFlight;
      gauge?.inc();
      try {
        // The exact bytes: a re-serialised body would not match the signature.
        const raw = await rawBody(c);
        const event = await verifyStripeEvent(deps, raw, c.req.header('stripe-signature')).catch((err) => {
          deps.metrics?.webhookEvents.inc({ type: 'unverified', outcome: 'rejected' });
          throw err;
        });
        const status = await receiveEvent(deps, event, raw.toString());
        return c.json({ received: true, status }, 200);
      } finally {
        gauge?.dec();
      }
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/events',
        tags: ['admin', 'webhooks'],
        summary: 'List received Stripe events, newest first (admin)',
        request: {
          query: z.object({
            type: z.string().max(100).optional(),
            status: z.enum(['handled', 'failed', 'pending']).optional(),
            limit: z.coerce.number().int().min(1).max(100).default(50),
            starting_after: EventIdParam.shape.id.optional(),
          }),
        },
        responses: {
          200: json(z.object({ data: z.array(EventSchema), has_more: z.boolean() }), 'Events'),
        },
      },
    ),
    async (c) => {
      const q = c.req.valid('query');
      const page = await listEvents(c.get('deps').db, {
        type: q.type,
        status: q.status,
        limit: q.limit,
        startingAfter: q.starting_after,
      });
      return c.json({ data: page.data.map((r) => eventJson(r)), has_more: page.has_more }, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/events/{id}',
        tags: ['admin', 'webhooks'],
        summary: 'One received event with its payload (admin)',
        request: { params: EventIdParam },
        responses: { 200: json(EventSchema, 'The event'), 404: json(z.any(), 'Unknown event') },
      },
    ),
    async (c) => {
      const row = await getEvent(c.get('deps').db, c.req.valid('param').id);
      if (!row) throw notFound('Event');
      return c.json(eventJson(row, { payload: true }), 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/events/{id}/replay',
        tags: ['admin', 'webhooks'],
        summary: 'Process an unhandled event again (admin); an event not in the inbox is fetched from Stripe',
        request: { params: EventIdParam },
        responses: {
          200: json(
            z.object({
              outcome: z.enum(['processed', 'duplicate', 'ignored', 'already_handled', 'failed']),
              event: EventSchema,
            }),
            'Outcome (failed: see event.last_error)',
          ),
          404: json(z.any(), 'Unknown event'),
        },
      },
    ),
    async (c) => {
      const { outcome, event } = await replayEvent(c.get('deps'), c.req.valid('param').id);
      return c.json({ outcome, event: eventJson(event) }, 200);
    },
  );

  return app;
}
