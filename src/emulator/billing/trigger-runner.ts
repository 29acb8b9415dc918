import { readFileSync } from 'node:fs';
import type Stripe from 'stripe';

/**
 * Runs a Stripe CLI trigger file (`cli-triggers/*.json`) through the official SDK: each fixture step
 * is a raw request whose `${name:path}` placeholders refer to earlier steps' results. Steps marked
 * `expected_error_type` must fail with that error type; their error body becomes the result.
 */
export interface TriggerStep {
  name: string;
  path: string;
  method: string;
  params?: Record<string, unknown>;
  expected_error_type?: string;
}

export interface TriggerFile {
  _meta?: { aliases?: string[] };
  fixtures: TriggerStep[];
}

export function readTrigger(url: URL): TriggerFile {
  return JSON.parse(readFileSync(url, 'utf8')) as TriggerFile;
}

function lookup(results: Record<string, unknown>, ref: string): unknown {
  const [name, path = 'id'] = ref.split(':');
  let v: unknown = results[name];
  for (const part of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
  if (v === undefined) throw new Error(`trigger placeholder \${${ref}} has no value`);
  return v;
}

function substitute<T>(value: T, results: Record<string, unknown>): T {
  if (typeof value === 'string') {
    return value.replace(/\$\{([^}]+)\}/g, (_, ref: string) => String(lookup(results, ref))) as T;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, results)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, results)])) as T;
  }
  return value;
}

function query(params: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(params).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}[${k}]` : k;
    if (v && typeof v === 'object') return query(v as Record<string, unknown>, key);
    return [`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`];
  });
}

const ERROR_CLASSES: Record<string, string> = {
  card_error: 'StripeCardError',
  invalid_request_error: 'StripeInvalidRequestError',
};

/** Runs every step in order; returns each step's result by name. */
export async function runTrigger(stripe: Stripe, trigger: TriggerFile): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  for (const step of trigger.fixtures) {
    const path = substitute(step.path, results);
    const params = substitute(step.params ?? {}, results);
    const method = step.method.toUpperCase();
    const call =
      method === 'POST'
        ? stripe.rawRequest('POST', path, params)
        : stripe.rawRequest(
            method,
            Object.keys(params).length ? `${path}?${query(params).join('&')}` : path,
            {},
          );
    if (step.expected_error_type) {
      const err = await call.then(
        () => {
          throw new Error(`step ${step.name} should have failed with ${step.expected_error_type}`);
        },
        (e: { type?: string; raw?: unknown }) => e,
      );
      if (err.type !== ERROR_CLASSES[step.expected_error_type]) throw err;
      results[step.name] = err.raw;
    } else {
      results[step.name] = await call;
    }
  }
  return results;
}
