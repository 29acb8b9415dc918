import { invalidParam, resourceMissing } from './errors';
import type { Store } from './store';
import { type Params, optArray, optInt, optString } from './wire';

/**
 * List objects: `{object:'list', data, has_more, url}`. Input `items` must be newest first (use
 * `newestFirst(store.all(col))`). `starting_after` / `ending_before` are object ids in that order.
 */
export interface ListObject<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  url: string;
}

export function newestFirst<T>(items: T[]): T[] {
  return [...items].reverse();
}

export function readLimit(params: Params): number {
  const limit = optInt(params, 'limit') ?? 10;
  if (limit < 1 || limit > 100) {
    throw invalidParam(
      'limit',
      'This value must be greater than or equal to 1 and less than or equal to 100.',
      'parameter_invalid_integer',
    );
  }
  return limit;
}

export function paginate<T extends { id: string }>(items: T[], params: Params, url: string): ListObject<T> {
  const limit = readLimit(params);
  const after = optString(params, 'starting_after');
  const before = optString(params, 'ending_before');
  if (after) {
    const i = items.findIndex((o) => o.id === after);
    if (i < 0) throw resourceMissing('object', after, 'starting_after');
    const rest = items.slice(i + 1);
    return { object: 'list', data: rest.slice(0, limit), has_more: rest.length > limit, url };
  }
  if (before) {
    const i = items.findIndex((o) => o.id === before);
    if (i < 0) throw resourceMissing('object', before, 'ending_before');
    const head = items.slice(0, i);
    const data = head.slice(Math.max(0, head.length - limit));
    return { object: 'list', data, has_more: head.length > limit, url };
  }
  return { object: 'list', data: items.slice(0, limit), has_more: items.length > limit, url };
}

/** A list embedded in an object (e.g. `charge.refunds`), with the first `limit` items. */
export function embeddedList<T>(items: T[], url: string, limit = 10): ListObject<T> {
  return { object: 'list', data: items.slice(0, limit), has_more: items.length > limit, url };
}

export interface SearchResult<T> {
  object: 'search_result';
  data: T[];
  has_more: boolean;
  next_page: string | null;
  url: string;
  total_count?: number;
}

/** Search pages: `page` is an opaque cursor; ours is the base64 offset. */
export function searchPage<T>(items: T[], params: Params, url: string): SearchResult<T> {
  const limit = readLimit(params);
  const page = optString(params, 'page');
  const offset = page ? Number(Buffer.from(page, 'base64url').toString()) || 0 : 0;
  const data = items.slice(offset, offset + limit);
  const more = items.length > offset + limit;
  return {
    object: 'search_result',
    data,
    has_more: more,
    next_page: more ? Buffer.from(String(offset + limit)).toString('base64url') : null,
    url,
  };
}

/**
 * A tiny subset of Stripe's search query language: clauses `field:'value'` or `metadata['k']:'v'`
 * (also `field~'substr'`), joined by AND / OR (no parentheses). Returns a predicate.
 */
export function compileSearch(query: string): (obj: Record<string, unknown>) => boolean {
  const clauseRe =
    /(metadata\[['"]([^'"]+)['"]\]|[a-z_]+)\s*(:|~|>=|<=|>|<)\s*(?:'([^']*)'|"([^"]*)"|(\S+))/gi;
  const clauses: Array<{ field: string; metaKey?: string; op: string; value: string; joiner: string }> = [];
  let lastIndex = 0;
  let joiner = 'AND';
  for (let m = clauseRe.exec(query); m; m = clauseRe.exec(query)) {
    const between = query.slice(lastIndex, m.index).trim().toUpperCase();
    if (between === 'OR') joiner = 'OR';
    else if (between === 'AND' || between === '') joiner = 'AND';
    clauses.push({
      field: m[2] ? 'metadata' : m[1],
      metaKey: m[2],
      op: m[3],
      value: m[4] ?? m[5] ?? m[6] ?? '',
      joiner,
    });
    lastIndex = clauseRe.lastIndex;
  }
  if (clauses.length === 0) throw invalidParam('query', `Invalid search query: ${query}`);
  const test = (obj: Record<string, unknown>, c: (typeof clauses)[number]) => {
    const raw = c.metaKey ? (obj.metadata as Record<string, string> | undefined)?.[c.metaKey] : obj[c.field];
    if (raw === undefined || raw === null) return false;
    if (c.op === ':') {
      return typeof raw === 'string' ? raw.toLowerCase() === c.value.toLowerCase() : String(raw) === c.value;
    }
    if (c.op === '~') return String(raw).toLowerCase().includes(c.value.toLowerCase());
    const n = Number(raw);
    const v = Number(c.value);
    return c.op === '>' ? n > v : c.op === '<' ? n < v : c.op === '>=' ? n >= v : n <= v;
  };
  return (obj) => {
    let result = test(obj, clauses[0]);
    for (const c of clauses.slice(1))
      result = c.joiner === 'OR' ? result || test(obj, c) : result && test(obj, c);
    return result;
  };
}

/** Reads `expand` as a list of dotted paths, whichever way it was encoded. */
export function readExpand(params: Params): string[] {
  const list = optArray(params, 'expand');
  return (list ?? []).map(String).filter(Boolean);
}

/**
 * Replaces id strings at the given dotted paths with the stored objects (deep-cloned), recursively,
 * e.g. `latest_invoice.payments`, and `data.customer` on lists. Unknown ids stay as strings; a path that
 * names a field that is not expandable is ignored (Stripe would 400; being lenient is harmless here).
 */
export function applyExpand(
  store: Store,
  value: unknown,
  paths: string[],
  resolve?: ExpandResolver,
): unknown {
  let out = value;
  for (const p of paths) out = expandPath(store, out, p.split('.'), resolve);
  return out;
}

/** Hook for ids that are not stored objects (e.g. `checkout.session.line_items`). */
export type ExpandResolver = (parent: Record<string, unknown>, field: string) => unknown | undefined;

function expandPath(store: Store, node: unknown, path: string[], resolve?: ExpandResolver): unknown {
  if (node === null || node === undefined || path.length === 0) return node;
  if (Array.isArray(node)) return node.map((n) => expandPath(store, n, path, resolve));
  if (typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const [head, ...rest] = path;
  let child = obj[head];
  const custom = resolve?.(obj, head);
  if (custom !== undefined) child = custom;
  else if (typeof child === 'string') {
    // Deleted objects expand to their tombstone ({id, object, deleted: true}), as at Stripe.
    const found = store.findAnywhere(child)?.obj ?? store.get('_deleted', child);
    if (found) child = structuredClone(found);
  } else if (Array.isArray(child) && child.every((c) => typeof c === 'string')) {
    child = child.map((id) => {
      const found = store.findAnywhere(id as string);
      return found ? structuredClone(found.obj) : id;
    });
  }
  return { ...obj, [head]: rest.length ? expandPath(store, child, rest, resolve) : child };
}
