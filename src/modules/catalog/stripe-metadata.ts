import { AppError } from '../../lib/errors';

/**
 * Paywire's catalog fields travel in Stripe metadata (`paywire_*` keys) so that a catalog pulled from
 * Stripe - or mirrored from a webhook - keeps them. Stripe limits metadata to 50 keys, keys to 40
 * characters and values to 500 characters: a JSON value longer than 500 characters is split over
 * `<key>_0`, `<key>_1`, ... with `<key>_parts` holding the count.
 */
export const METADATA_VALUE_LIMIT = 500;
const MAX_PARTS = 40;

export type MetadataUpdate = Record<string, string>;

/** Encodes `value` as JSON under `key`; stale chunk keys of `previous` are unset ('' deletes in Stripe). */
export function encodeJson(
  key: string,
  value: unknown,
  previous: Record<string, string> = {},
): MetadataUpdate {
  const out: MetadataUpdate = {};
  for (const k of Object.keys(previous)) {
    if (k === key || k === `${key}_parts` || new RegExp(`^${key}_\\d+$`).test(k)) out[k] = '';
  }
  if (value === null || value === undefined) return out;
  const json = JSON.stringify(value);
  if (json.length <= METADATA_VALUE_LIMIT) {
    out[key] = json;
    return out;
  }
  const parts = Math.ceil(json.length / METADATA_VALUE_LIMIT);
  if (parts > MAX_PARTS) {
    throw new AppError(
      'invalid_request',
      `${key} is too large to store in Stripe metadata (${json.length} characters)`,
    );
  }
  for (let i = 0; i < parts; i++) {
    out[`${key}_${i}`] = json.slice(i * METADATA_VALUE_LIMIT, (i + 1) * METADATA_VALUE_LIMIT);
  }
  out[`${key}_parts`] = String(parts);
  return out;
}

/** Reads a value written by encodeJson; undefined when absent, `{error}` when unreadable. */
export function decodeJson(
  metadata: Record<string, string> | null | undefined,
  key: string,
): { value: unknown } | { error: string } | undefined {
  if (!metadata) return undefined;
  let json = metadata[key];
  if (!json) {
    const parts = Number(metadata[`${key}_parts`]);
    if (!Number.isInteger(parts) || parts <= 0) return undefined;
    const chunks: string[] = [];
    for (let i = 0; i < parts; i++) {
      const chunk = metadata[`${key}_${i}`];
      if (chunk === undefined) return { error: `${key}: chunk ${i} of ${parts} is missing` };
      chunks.push(chunk);
    }
    json = chunks.join('');
  }
  try {
    return { value: JSON.parse(json) };
  } catch {
    return { error: `${key}: not valid JSON` };
  }
}

/** A plain string field: '' unsets it in Stripe. */
export const str = (value: string | number | boolean | null | undefined): string =>
  value === null || value === undefined ? '' : String(value);

export function optInt(value: string | undefined): number | null {
  if (value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}
