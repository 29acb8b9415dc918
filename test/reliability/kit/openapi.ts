import type { ApiCaller } from '../../harness';

/** JSON Schema as /openapi.json renders zod (the subset the routes use). */
export interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  maxItems?: number;
  anyOf?: Schema[];
  oneOf?: Schema[];
  default?: unknown;
}

export interface Param {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema: Schema;
}

export interface Route {
  method: string;
  /** As documented, with {params}. */
  path: string;
  /** `public`, `user`, `user:<scope>` or `admin` (x-paywire-access). */
  access: string;
  body: Schema | null;
  params: Param[];
}

/** Every operation of the OpenAPI document the app serves. */
export async function loadRoutes(call: ApiCaller): Promise<Route[]> {
  const res = await call('GET', '/openapi.json');
  if (res.status !== 200) throw new Error(`/openapi.json: ${res.status}`);
  const out: Route[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: the document is read as plain JSON
  for (const [path, ops] of Object.entries(res.body.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(ops)) {
      out.push({
        method: method.toUpperCase(),
        path,
        access: op['x-paywire-access'],
        body: op.requestBody?.content?.['application/json']?.schema ?? null,
        params: (op.parameters ?? []) as Param[],
      });
    }
  }
  return out;
}

export const PLACEHOLDER_UUID = '01900000-0000-7000-8000-000000000000';

/** A path with every {param} filled: a well-formed id that names nothing, unless `values` says otherwise. */
export function concrete(route: Route, values: Record<string, string> = {}): string {
  return route.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (values[name]) return encodeURIComponent(values[name]!);
    return name === 'session_id' ? 'cs_test_a1b2c3d4e5f6g7h8' : PLACEHOLDER_UUID;
  });
}

export const isNullable = (s: Schema) =>
  (Array.isArray(s.type) && s.type.includes('null')) || !!s.anyOf?.some((x) => x.type === 'null');

/** The schema's main type (the first non-null one). */
export function typeOf(s: Schema): string | undefined {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== 'null');
  if (s.type) return s.type;
  const alt = (s.anyOf ?? s.oneOf)?.find((x) => x.type !== 'null');
  return alt ? typeOf(alt) : undefined;
}

/** Values for fields by name: real ids and sensible content, so a base body is close to valid. */
export type Dictionary = Record<string, unknown>;

let unique = 0;

/** A value that satisfies the schema as far as a generator can tell (by name first, then by shape). */
export function sample(name: string, s: Schema, dict: Dictionary): unknown {
  if (name in dict) {
    const v = dict[name];
    return typeof v === 'function' ? (v as () => unknown)() : v;
  }
  if (s.enum?.length) return s.enum.find((v) => v !== null);
  const alt = s.anyOf ?? s.oneOf;
  if (alt && !s.type) return sample(name, alt.find((x) => x.type !== 'null')!, dict);
  switch (typeOf(s)) {
    case 'string':
      if (s.format === 'uuid') return PLACEHOLDER_UUID;
      if (s.format === 'email') return `probe-${Date.now().toString(36)}-${++unique}@example.com`;
      if (s.format === 'date-time') return new Date(Date.now() + 30 * 86_400_000).toISOString();
      if (s.pattern === '^[A-Za-z]{3}$') return 'usd';
      return 'x'.repeat(Math.max(s.minLength ?? 1, 3)).slice(0, s.maxLength ?? 3);
    case 'integer':
    case 'number':
      if (s.exclusiveMinimum !== undefined) return Math.max(s.exclusiveMinimum + 1, 1);
      return Math.max(s.minimum ?? 1, 1);
    case 'boolean':
      return false;
    case 'array':
      return s.minItems ? [sample(name, s.items ?? {}, dict)] : [];
    case 'object':
      return body(s, dict);
    default:
      return null;
  }
}

/** A body with every required property (and the dictionary's optional ones the schema names). */
export function body(s: Schema, dict: Dictionary, include: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, prop] of Object.entries(s.properties ?? {})) {
    if (s.required?.includes(k) || include.includes(k)) out[k] = sample(k, prop, dict);
  }
  return out;
}
