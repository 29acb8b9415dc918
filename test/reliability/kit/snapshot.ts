import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * Whole-database snapshots and their comparison, row by row, between two runs of the same scenario.
 *
 * What may legitimately differ between runs is normalised away, nothing else:
 * - ids: our UUIDs and Stripe's ids are different in every run. Each id is replaced by a label computed
 *   from the content of the row it names and of the rows that refer to it (a few rounds of refinement,
 *   like a canonical graph labelling), so references still have to point at "the same" rows;
 * - times: compared with a tolerance (TIME_TOLERANCE_MS) instead of exactly, each against its own anchor
 *   (business time from T0, wall time from the run's start);
 * - columns that are random by design (password and token hashes) or record how delivery went rather
 *   than what state resulted (attempt counters, last errors, the raw event payloads): IGNORED below.
 */
export const TIME_TOLERANCE_MS = 120_000;

/** Columns left out of the comparison, per table, with the reason. */
export const IGNORED: Record<string, Record<string, string>> = {
  users: { password_hash: 'random salt' },
  sessions: { token_hash: 'random token', user_agent: 'client detail' },
  api_keys: { key_hash: 'random key', prefix: 'random key' },
  entitlements: {
    stripe_event_id: 'provenance: the event that fulfilled, or null when the success page did it first',
  },
  stripe_events: {
    payload: 'the raw event; its effects are compared instead',
    attempts: 'how many deliveries it took (faults make this differ)',
    last_error: 'delivery history',
    last_error_at: 'delivery history',
    last_attempt_at: 'delivery history',
    received_at: 'delivery history',
  },
};
/** Tables left out entirely. */
export const IGNORED_TABLES: Record<string, string> = {
  job_runs: 'scheduled-job bookkeeping (wall-time driven)',
};

export interface TableDump {
  table: string;
  pk: string | null;
  rows: Record<string, unknown>[];
}

export interface Snapshot {
  tables: TableDump[];
  /** Anchors for times: the fixed business start (ms) and the wall-clock start of the run (ms). */
  businessT0: number;
  wallT0: number;
}

export async function takeSnapshot(pool: pg.Pool, anchors: { businessT0: number; wallT0: number }) {
  const tables = await pool.query<{ table_name: string; pk: string | null }>(`
    select t.table_name,
      (select string_agg(k.column_name, ',') from information_schema.table_constraints c
         join information_schema.key_column_usage k on k.constraint_name = c.constraint_name
          and k.table_schema = c.table_schema and k.table_name = c.table_name
        where c.table_schema = 'public' and c.table_name = t.table_name and c.constraint_type = 'PRIMARY KEY') as pk
    from information_schema.tables t
    where t.table_schema = 'public' and t.table_type = 'BASE TABLE' order by t.table_name`);
  const out: TableDump[] = [];
  for (const { table_name: table, pk } of tables.rows) {
    if (table in IGNORED_TABLES) continue;
    const rows = (await pool.query(`select * from "${table}"`)).rows;
    out.push({ table, pk: pk && !pk.includes(',') ? pk : null, rows });
  }
  return { tables: out, ...anchors } satisfies Snapshot;
}

// ---- tokenising values: ids and times become placeholders ----

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const STRIPE =
  '(?:sub_sched|acct|bpc|bps|card|ch|clock|cn|cs|cus|di|dp|evt|ii|il|inpay|in|pi|pm|po|price|prod|promo|py|pyr|re|req|seti|si|src|sub|tok|txn|we)_(?:test_|live_)?[A-Za-z0-9]{6,}';
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?(?:Z|[+-]\\d\\d:?\\d\\d)';
// A Unix time in seconds (2020..2040) or milliseconds, inside a string (e.g. `sub:<id>:period:<start>`).
const UNIX = '(?<!\\d)(?:1[6-9]\\d{8}|2[0-1]\\d{8})(?:\\d{3})?(?!\\d)';
const TOKEN_RE = new RegExp(`(${UUID})|(${STRIPE})|(${ISO})|(${UNIX})`, 'g');
const HAS_TOKEN = new RegExp(TOKEN_RE.source);
const WHOLE_UUID = new RegExp(`^${UUID}$`);

interface Tokenised {
  /** The row as JSON text, ids as «n» (n indexes `ids`), times as «t». */
  text: string;
  ids: string[];
  times: number[];
}

function tokenise(row: Record<string, unknown>, ignored: Record<string, string> | undefined): Tokenised {
  const ids: string[] = [];
  const times: number[] = [];
  const id = (v: string) => {
    ids.push(v);
    return `«${ids.length - 1}»`;
  };
  const time = (ms: number) => {
    times.push(ms);
    return '«t»';
  };
  const str = (s: string): string =>
    s.replace(TOKEN_RE, (m, uuid, stripe, iso, unix) => {
      if (uuid || stripe) return id(m);
      if (iso) return time(Date.parse(m));
      if (unix) return time(m.length > 10 ? Number(m) : Number(m) * 1000);
      return m;
    });
  const walk = (v: unknown): unknown => {
    if (v === null || v === undefined) return null;
    if (v instanceof Date) return time(v.getTime());
    if (typeof v === 'string') return str(v);
    if (typeof v === 'number') {
      // Unix seconds inside JSON (Stripe-shaped metadata); amounts in these scenarios stay far below.
      if (Number.isInteger(v) && v >= 1.6e9 && v < 2.2e9) return time(v * 1000);
      return v;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(o)
          .sort()
          .map((k) => [k, walk(o[k])]),
      );
    }
    return v;
  };
  // A column named *_id / *_ids holds ids whatever their shape (Stripe coupon ids are free-form).
  const idColumn = (c: string, v: unknown): unknown => {
    if (!/_ids?$/.test(c)) return walk(v);
    if (typeof v === 'string') return HAS_TOKEN.test(v) ? walk(v) : id(v);
    if (Array.isArray(v))
      return v.map((x) => (typeof x === 'string' && !HAS_TOKEN.test(x) ? id(x) : walk(x)));
    return walk(v);
  };
  const cols = Object.keys(row)
    .filter((c) => !ignored?.[c])
    .sort();
  const text = JSON.stringify(cols.map((c) => [c, idColumn(c, row[c])]));
  return { text, ids, times };
}

// ---- canonical labels ----

const hash = (s: string) => createHash('sha1').update(s).digest('hex').slice(0, 12);
const kindOf = (id: string) => {
  if (WHOLE_UUID.test(id)) return 'uuid';
  const cut = id.lastIndexOf('_');
  return cut < 0 ? 'id' : id.slice(0, cut);
};

interface Entry {
  table: string;
  pk: string | null;
  raw: Record<string, unknown>;
  tok: Tokenised;
  sig: string;
  /** Times relative to their anchor (business: from T0; wall: from the run's start, offset by 1e15). */
  rel: number[];
}

const ROUNDS = 4;

/** Labels every row of a snapshot; the final signature of a row is comparable across runs. */
function label(snapshot: Snapshot): Entry[] {
  const entries: Entry[] = [];
  for (const t of snapshot.tables) {
    for (const raw of t.rows) {
      const pk = t.pk ? String(raw[t.pk]) : null;
      const tok = tokenise(raw, IGNORED[t.table]);
      const rel = tok.times.map((ms) =>
        Math.abs(ms - snapshot.businessT0) < Math.abs(ms - snapshot.wallT0)
          ? ms - snapshot.businessT0
          : ms - snapshot.wallT0 + 1e15,
      );
      entries.push({ table: t.table, pk, raw, tok, sig: '', rel });
    }
  }
  const pkOf = new Map<string, Entry>();
  for (const e of entries) if (e.pk) pkOf.set(e.pk, e);
  let labels = new Map<string, string>();
  const labelOf = (id: string) =>
    labels.get(id) ?? (pkOf.has(id) ? `row:${pkOf.get(id)!.table}` : kindOf(id));
  const render = (e: Entry) =>
    e.tok.text.replace(/«(\d+)»/g, (_, n) => {
      const id = e.tok.ids[Number(n)]!;
      return id === e.pk ? '<self>' : `<${labelOf(id)}>`;
    });
  for (let round = 0; round < ROUNDS; round++) {
    for (const e of entries) e.sig = `${e.table}|${render(e)}`;
    const next = new Map<string, string>();
    // A row's id: its own content. Any other id (a Stripe object, a row that no longer exists): the
    // multiset of places it appears in.
    const seen = new Map<string, string[]>();
    for (const e of entries) {
      if (e.pk) next.set(e.pk, `${e.table}#${hash(e.sig)}`);
      e.tok.ids.forEach((id, i) => {
        if (id === e.pk || pkOf.has(id)) return;
        const places = seen.get(id) ?? [];
        places.push(`${e.sig}@${i}`);
        seen.set(id, places);
      });
    }
    for (const [id, places] of seen) next.set(id, `${kindOf(id)}#${hash(places.sort().join('\n'))}`);
    labels = next;
  }
  for (const e of entries) e.sig = `${e.table}|${render(e)}`;
  return entries;
}

export interface Difference {
  table: string;
  message: string;
}

const MAX_SHOWN = 4;

function show(e: Entry): string {
  const text = JSON.stringify(e.raw, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  return text.length > 900 ? `${text.slice(0, 900)}…` : text;
}

const columnsOf = (e: Entry): Map<string, string> =>
  new Map(
    (JSON.parse(e.sig.slice(e.table.length + 1)) as [string, unknown][]).map(([c, v]) => [
      c,
      JSON.stringify(v),
    ]),
  );

function differingColumns(a: Entry, b: Entry): string[] {
  const ca = columnsOf(a);
  const cb = columnsOf(b);
  return [...new Set([...ca.keys(), ...cb.keys()])].filter((c) => ca.get(c) !== cb.get(c));
}

const rawValue = (v: unknown) => {
  const text = JSON.stringify(v instanceof Date ? v.toISOString() : v) ?? 'undefined';
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
};

function describeColumn(col: string, a: Entry, b: Entry): string {
  return `${col}: in order ${rawValue(a.raw[col])}, faulted ${rawValue(b.raw[col])}`;
}

function timesMatch(a: Entry, b: Entry): boolean {
  return (
    a.rel.length === b.rel.length && a.rel.every((ra, i) => Math.abs(ra - b.rel[i]!) <= TIME_TOLERANCE_MS)
  );
}

const byTimes = (x: Entry, y: Entry) => {
  for (let i = 0; i < Math.min(x.rel.length, y.rel.length); i++)
    if (x.rel[i] !== y.rel[i]) return x.rel[i]! - y.rel[i]!;
  return x.rel.length - y.rel.length;
};

/**
 * Compares two snapshots row by row. Returns every difference (empty = the same state): rows present in
 * one run only, with the raw rows shown, and rows whose times are further apart than the tolerance.
 */
export { label as labelSnapshot };
export function compareSnapshots(expected: Snapshot, actual: Snapshot): Difference[] {
  const a = label(expected);
  const b = label(actual);
  const diffs: Difference[] = [];
  const tables = [...new Set([...a, ...b].map((e) => e.table))].sort();
  for (const table of tables) {
    const group = (list: Entry[]) => {
      const m = new Map<string, Entry[]>();
      for (const e of list.filter((x) => x.table === table)) m.set(e.sig, [...(m.get(e.sig) ?? []), e]);
      return m;
    };
    const ga = group(a);
    const gb = group(b);
    const onlyA: Entry[] = [];
    const onlyB: Entry[] = [];
    for (const [sig, ea] of ga) {
      const eb = gb.get(sig) ?? [];
      ea.sort(byTimes);
      eb.sort(byTimes);
      for (let i = 0; i < Math.max(ea.length, eb.length); i++) {
        if (!eb[i]) onlyA.push(ea[i]!);
        else if (!ea[i]) onlyB.push(eb[i]!);
        else if (!timesMatch(ea[i]!, eb[i]!)) {
          diffs.push({
            table,
            message: `times differ by more than ${TIME_TOLERANCE_MS / 1000}s:\n    expected ${show(ea[i]!)}\n    actual   ${show(eb[i]!)}`,
          });
        }
      }
    }
    for (const [sig, eb] of gb) if (!ga.has(sig)) onlyB.push(...eb);
    const rowsA = a.filter((e) => e.table === table).length;
    const rowsB = b.filter((e) => e.table === table).length;
    if (onlyA.length || onlyB.length) {
      const lines = [
        `${table}: ${rowsA} rows expected, ${rowsB} found; ${onlyA.length} only in the in-order run, ${onlyB.length} only in the faulted run`,
      ];
      // Pair each unmatched row with its nearest unmatched counterpart and name the columns that differ.
      const rest = [...onlyB];
      for (const ea of onlyA.slice(0, MAX_SHOWN)) {
        const best = rest
          .map((eb) => ({ eb, cols: differingColumns(ea, eb) }))
          .sort((x, y) => x.cols.length - y.cols.length)[0];
        if (best && best.cols.length <= 4) {
          rest.splice(rest.indexOf(best.eb), 1);
          lines.push(
            `    a row differs in ${best.cols.map((c) => describeColumn(c, ea, best.eb)).join('; ')}`,
          );
        } else lines.push(`    expected only: ${show(ea)}`);
      }
      for (const eb of rest.slice(0, MAX_SHOWN)) lines.push(`    actual only:   ${show(eb)}`);
      diffs.push({ table, message: lines.join('\n') });
    }
  }
  return diffs;
}

/** Row counts per table (for "nothing doubled" messages). */
export const rowCounts = (s: Snapshot) => Object.fromEntries(s.tables.map((t) => [t.table, t.rows.length]));
