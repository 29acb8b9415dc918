import { invalidParam, missingParam } from './errors';

/**
 * Stripe's form encoding: `a[b][0][c]=v`. Decoded into nested objects; bracket segments that are
 * integers (or empty, `a[]=v`) build arrays. Every leaf stays a string (`"true"`, `"42"`, `""`), so
 * handlers coerce with the helpers below. `key=` arrives as `""`, which means "unset" to Stripe.
 */
export type Params = Record<string, unknown>;

function splitKey(key: string): string[] {
  const first = key.indexOf('[');
  if (first < 0) return [key];
  const parts = [key.slice(0, first)];
  const re = /\[([^\]]*)\]/g;
  for (let m = re.exec(key.slice(first)); m; m = re.exec(key.slice(first))) parts.push(m[1]);
  return parts;
}

const isIndex = (s: string) => s === '' || /^\d+$/.test(s);

export function decodeForm(search: URLSearchParams): Params {
  const root: Params = {};
  for (const [rawKey, value] of search) {
    const parts = splitKey(rawKey);
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const last = i === parts.length - 1;
      // Metadata keys are free-form strings, never array indexes.
      const parentIsMetadata = i > 0 && parts[i - 1] === 'metadata';
      if (Array.isArray(node)) {
        const idx = part === '' ? node.length : Number(part);
        if (last) node[idx] = value;
        else {
          if (node[idx] === undefined) node[idx] = isIndex(parts[i + 1]) ? [] : {};
          node = node[idx] as Record<string, unknown> | unknown[];
        }
      } else {
        if (last) node[part] = value;
        else {
          const nextIsArray = isIndex(parts[i + 1]) && part !== 'metadata' && !parentIsMetadata;
          const existing = node[part];
          if (existing === undefined || typeof existing !== 'object' || existing === null) {
            node[part] = nextIsArray ? [] : {};
          }
          node = node[part] as Record<string, unknown> | unknown[];
        }
      }
    }
  }
  return root;
}

export function parseParams(body: string, contentType: string | undefined): Params {
  if (contentType?.includes('application/json')) {
    if (!body.trim()) return {};
    const parsed = JSON.parse(body) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Params) : {};
  }
  return decodeForm(new URLSearchParams(body));
}

// ---- coercion helpers (throw Stripe's 400 with the param name) ----

/** `undefined` when absent, `null` when sent empty (unset), else the string. */
export function optString(params: Params, name: string): string | null | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (v === '' || v === null) return null;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') throw invalidParam(name, `Invalid string: ${JSON.stringify(v)}`);
  return v;
}

export function reqString(params: Params, name: string): string {
  const v = optString(params, name);
  if (v === undefined || v === null) throw missingParam(name);
  return v;
}

export function optInt(params: Params, name: string): number | null | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (v === '' || v === null) return null;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n))
    throw invalidParam(name, `Invalid integer: ${String(v)}`, 'parameter_invalid_integer');
  return n;
}

export function reqInt(params: Params, name: string): number {
  const v = optInt(params, name);
  if (v === undefined || v === null) throw missingParam(name);
  return v;
}

export function optNumber(params: Params, name: string): number | null | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (v === '' || v === null) return null;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n))
    throw invalidParam(name, `Invalid decimal: ${String(v)}`, 'parameter_invalid_decimal');
  return n;
}

export function optBool(params: Params, name: string): boolean | undefined {
  const v = params[name];
  if (v === undefined || v === '') return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw invalidParam(name, `Invalid boolean: ${String(v)}`, 'parameter_invalid_boolean');
}

export function optObject(params: Params, name: string): Params | null | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (v === '' || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v))
    throw invalidParam(name, `Invalid object`, 'parameter_invalid_object');
  return v as Params;
}

export function optArray(params: Params, name: string): unknown[] | null | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (v === '' || v === null) return null;
  if (Array.isArray(v)) return v.filter((x) => x !== undefined);
  if (typeof v === 'object') return Object.values(v as object);
  return [v];
}

export function optEnum<T extends string>(
  params: Params,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const v = optString(params, name);
  if (v === undefined || v === null) return undefined;
  if (!allowed.includes(v as T)) {
    throw invalidParam(
      name,
      `Invalid ${name}: must be one of ${allowed.join(', ')}`,
      'parameter_invalid_string',
    );
  }
  return v as T;
}

/**
 * Metadata update semantics: `metadata=` clears all keys, `metadata[k]=` removes k, other keys merge.
 * Stripe limits: 50 keys, key 40 chars, value 500 chars.
 */
export function applyMetadata(
  current: Record<string, string>,
  params: Params,
  name = 'metadata',
): Record<string, string> {
  const v = params[name];
  if (v === undefined) return current;
  if (v === '' || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v))
    throw invalidParam(name, 'Invalid hash', 'parameter_invalid_object');
  const next = { ...current };
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === '' || val === null) delete next[k];
    else {
      if (k.length > 40) throw invalidParam(`${name}[${k}]`, 'Metadata keys can have up to 40 characters.');
      if (String(val).length > 500)
        throw invalidParam(`${name}[${k}]`, 'Metadata values can have up to 500 characters.');
      next[k] = typeof val === 'object' ? JSON.stringify(val) : String(val);
    }
  }
  if (Object.keys(next).length > 50) throw invalidParam(name, 'Metadata can have up to 50 keys.');
  return next;
}

/** `created[gte]=..` style filters, or a plain integer meaning equality. */
export function matchesRange(value: number | null | undefined, filter: unknown): boolean {
  if (filter === undefined || filter === '') return true;
  if (value === null || value === undefined) return false;
  if (typeof filter === 'string' || typeof filter === 'number') return value === Number(filter);
  const f = filter as Record<string, string>;
  if (f.gt !== undefined && !(value > Number(f.gt))) return false;
  if (f.gte !== undefined && !(value >= Number(f.gte))) return false;
  if (f.lt !== undefined && !(value < Number(f.lt))) return false;
  if (f.lte !== undefined && !(value <= Number(f.lte))) return false;
  return true;
}
