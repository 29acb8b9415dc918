import type Stripe from 'stripe';
import { API_VERSION, type EmulatorContext } from '../context';
import { invalidParam } from '../errors';
import { newestFirst, paginate } from '../lists';
import type { ApiRouter } from '../router';
import { randomToken } from '../store';
import { type Params, applyMetadata, matchesRange, optArray, optBool, optString, reqString } from '../wire';
import type { EmulatorEvent } from '../events';

type EndpointRecord = Stripe.WebhookEndpoint;
/** Secrets live in a private collection: Stripe shows `secret` only in the create response. */
const SECRETS = '_webhook_secrets';

export function webhookSecretOf(ctx: EmulatorContext, endpointId: string): string | undefined {
  return ctx.store.get<{ id: string; secret: string }>(SECRETS, endpointId)?.secret;
}

function readEvents(p: Params, required: boolean): string[] | undefined {
  const list = optArray(p, 'enabled_events');
  if (list === undefined || list === null) {
    if (required)
      throw invalidParam('enabled_events', 'Missing required param: enabled_events.', 'parameter_missing');
    return undefined;
  }
  const events = list.map(String).filter(Boolean);
  if (events.length === 0) throw invalidParam('enabled_events', 'enabled_events must not be empty.');
  return events;
}

function checkUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw invalidParam('url', 'Invalid URL: URL must be a valid http(s) URL.', 'url_invalid');
  }
  return url;
}

export function registerWebhookEndpointRoutes(ctx: EmulatorContext, r: ApiRouter): void {
  r.post('/v1/webhook_endpoints', (req) => {
    const p = req.params;
    const ep: EndpointRecord = {
      id: ctx.store.newId('we'),
      object: 'webhook_endpoint',
      api_version: optString(p, 'api_version') ?? null,
      application: null,
      created: ctx.clock.nowSeconds(),
      description: optString(p, 'description') ?? null,
      enabled_events: readEvents(p, true) ?? [],
      livemode: false,
      metadata: applyMetadata({}, p),
      status: 'enabled',
      url: checkUrl(reqString(p, 'url')),
    } satisfies EndpointRecord;
    const secret = `whsec_${randomToken(32)}`;
    ctx.store.insert('webhook_endpoints', ep);
    ctx.store.insert(SECRETS, { id: ep.id, secret });
    return { ...ep, secret };
  });
  r.get('/v1/webhook_endpoints/:id', (req) =>
    ctx.store.require('webhook_endpoints', req.path.id, 'webhook endpoint'),
  );
  r.post('/v1/webhook_endpoints/:id', (req) => {
    const ep = ctx.store.require<EndpointRecord>('webhook_endpoints', req.path.id, 'webhook endpoint');
    const p = req.params;
    const events = readEvents(p, false);
    if (events) ep.enabled_events = events;
    const url = optString(p, 'url');
    if (url) ep.url = checkUrl(url);
    const description = optString(p, 'description');
    if (description !== undefined) ep.description = description;
    const disabled = optBool(p, 'disabled');
    if (disabled !== undefined) ep.status = disabled ? 'disabled' : 'enabled';
    ep.metadata = applyMetadata(ep.metadata, p);
    ctx.store.save('webhook_endpoints', ep);
    return ep;
  });
  r.delete('/v1/webhook_endpoints/:id', (req) => {
    ctx.store.require('webhook_endpoints', req.path.id, 'webhook endpoint');
    ctx.store.delete('webhook_endpoints', req.path.id);
    ctx.store.delete(SECRETS, req.path.id);
    return {
      id: req.path.id,
      object: 'webhook_endpoint',
      deleted: true,
    } satisfies Stripe.DeletedWebhookEndpoint;
  });
  r.get('/v1/webhook_endpoints', (req) =>
    paginate(newestFirst(ctx.store.all<EndpointRecord>('webhook_endpoints')), req.params, req.url),
  );

  r.get('/v1/events/:id', (req) => ctx.store.require('events', req.path.id, 'event'));
  r.get('/v1/events', (req) => {
    const p = req.params;
    const type = optString(p, 'type');
    const types = optArray(p, 'types') as string[] | undefined;
    const matchType = (t: string) => {
      if (type) return type.endsWith('*') ? t.startsWith(type.slice(0, -1)) : t === type;
      return !types || types.includes(t);
    };
    const items = ctx.store
      .all<EmulatorEvent>('events')
      .filter((e) => matchType(e.type) && matchesRange(e.created, p.created));
    return paginate(newestFirst(items), p, req.url);
  });
}

export { API_VERSION };
