import { API_VERSION, type EmulatorContext } from './context';

/**
 * Events: every state change a webhook consumer should hear about goes through emitEvent. The event is
 * stored (Events API, 30 days at Stripe; forever here) and handed to the webhook dispatcher, which
 * delivers it later, outside the state lock.
 */
export interface EmulatorEvent {
  id: string;
  object: 'event';
  account?: string;
  api_version: string;
  context?: string;
  created: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface EmitOptions {
  /** Event time (seconds); default the emulator clock. Billing passes a test clock's time. */
  created?: number;
}

export function emitEvent(
  ctx: EmulatorContext,
  type: string,
  object: object,
  previousAttributes?: Record<string, unknown> | null,
  opts: EmitOptions = {},
): EmulatorEvent {
  const info = ctx.requestInfo.getStore();
  const event: EmulatorEvent = {
    id: ctx.store.newId('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: opts.created ?? ctx.clock.nowSeconds(),
    // A snapshot: later changes to the object must not alter what this event says.
    data: {
      object: structuredClone(object) as Record<string, unknown>,
      ...(previousAttributes && Object.keys(previousAttributes).length
        ? { previous_attributes: structuredClone(previousAttributes) }
        : {}),
    },
    livemode: false,
    pending_webhooks: 0,
    request: { id: info?.requestId ?? null, idempotency_key: info?.idempotencyKey ?? null },
    type,
  };
  event.pending_webhooks = ctx.webhooks.matchingEndpointCount(type);
  ctx.store.insert('events', event);
  ctx.webhooks.enqueue(event);
  return event;
}

/**
 * The fields of `before` that differ in `after` (top level), with their old values: what Stripe puts
 * in `data.previous_attributes`. Nested objects are compared as JSON and given whole, except
 * `metadata`, which lists only the changed keys.
 */
export function previousAttributes(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(after)) {
    if (JSON.stringify(before[key]) === JSON.stringify(after[key])) continue;
    if (key === 'metadata' && isPlain(before[key]) && isPlain(after[key])) {
      // Stripe lists only the metadata keys that changed, with their old values (null when added).
      const b = before[key] as Record<string, unknown>;
      const a = after[key] as Record<string, unknown>;
      const changed: Record<string, unknown> = {};
      for (const k of new Set([...Object.keys(b), ...Object.keys(a)]))
        if (b[k] !== a[k]) changed[k] = b[k] ?? null;
      out[key] = changed;
    } else out[key] = before[key] ?? null;
  }
  return out;
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v);
