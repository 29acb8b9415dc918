import { isNullable, type Param, type Route, type Schema, typeOf } from './openapi';

/**
 * Bad inputs for one JSON endpoint, generated from its request schema in /openapi.json: the body as a
 * whole (not an object, not JSON, empty, extra and polluting keys, the wrong content type, invalid
 * UTF-8), and each field (missing, wrong type, out of range, fractional, huge, too long, HTML and SQL
 * where the field has a format, a pattern or a set of values).
 */
export interface BadInput {
  label: string;
  /** Raw body bytes (text is sent as UTF-8). */
  body: string | Uint8Array;
  contentType?: string;
  /** The field the refusal should name, when there is one. */
  field?: string;
  /** Bodies that are not valid UTF-8 (checked in a test of their own). */
  utf8?: boolean;
}

export const HTML = '<script>alert(1)</script>';
export const SQL = "x' OR '1'='1'; DROP TABLE users; --";
const LONG = 'x'.repeat(100_000);

const json = (v: unknown) => JSON.stringify(v);

/** Every JSON type a schema accepts (a union accepts each of its branches' types). */
function typesOf(s: Schema): Set<string> {
  const out = new Set<string>();
  for (const t of Array.isArray(s.type) ? s.type : s.type ? [s.type] : [])
    out.add(t === 'integer' ? 'number' : t);
  for (const alt of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) for (const t of typesOf(alt)) out.add(t);
  return out;
}

/** Values of the wrong JSON type for a schema. */
function wrongTypes(s: Schema): unknown[] {
  const ok = typesOf(s);
  const out: unknown[] = [];
  if (!ok.has('string')) out.push('a string', '');
  if (!ok.has('number')) out.push(12345);
  if (!ok.has('boolean')) out.push(true);
  if (!ok.has('array')) out.push(['x']);
  if (!ok.has('object')) out.push({ nested: 'object' });
  if (!isNullable(s)) out.push(null);
  return out;
}

/** Values of the right type that the schema refuses. */
function outOfRange(s: Schema): Array<[string, unknown | { raw: string }]> {
  const t = typeOf(s);
  const out: Array<[string, unknown | { raw: string }]> = [];
  if (s.enum) out.push(['not one of the values', 'not_an_option']);
  if (t === 'integer' || t === 'number') {
    const min = s.exclusiveMinimum ?? (s.minimum !== undefined ? s.minimum - 1 : undefined);
    if (min !== undefined) out.push(['below the minimum (negative money)', min]);
    if (min !== undefined && min >= -1) out.push(['negative', -1]);
    if (s.maximum !== undefined) out.push(['above the maximum', s.maximum + 1]);
    out.push(['huge', 1e308], ['infinite (1e400)', { raw: '1e400' }], ['a numeric string', '10']);
    if (t === 'integer')
      out.push(['fractional money', 1.5], ['unsafe integer 2^53+1', { raw: '9007199254740993' }]);
  }
  if (t === 'string') {
    if (s.maxLength !== undefined) out.push(['one character too long', 'x'.repeat(s.maxLength + 1)]);
    else if (!s.enum) out.push(['a 100,000-character string', LONG]);
    if ((s.minLength ?? 0) >= 1) out.push(['empty', '']);
    if (s.format || s.pattern || s.enum) {
      out.push(['HTML', HTML], ['SQL', SQL], ['a NUL character', 'a\u0000b']);
    }
    if (s.format === 'date-time') out.push(['not a date', '2031-13-45T25:61:00Z']);
  }
  if (t === 'array') {
    if ((s.minItems ?? 0) >= 1) out.push(['an empty list', []]);
    if (s.maxItems !== undefined)
      out.push(['too many items', Array.from({ length: s.maxItems + 1 }, () => 'x')]);
    out.push(['items of the wrong type', [{ a: 1 }, 12]]);
  }
  return out;
}

/** Replaces one field of a JSON body by raw JSON text (for 1e400 and 2^53+1, which JSON.stringify cannot write). */
function withRaw(base: Record<string, unknown>, field: string, raw: string): string {
  const marker = '"__raw_marker__"';
  return json({ ...base, [field]: '__raw_marker__' }).replace(marker, raw);
}

export function badBodies(route: Route, base: Record<string, unknown>): BadInput[] {
  const schema = route.body!;
  const out: BadInput[] = [];
  for (const [label, body] of [
    ['a JSON array', '[]'],
    ['a JSON string', '"x"'],
    ['a JSON number', '42'],
    ['JSON null', 'null'],
    ['an empty body', ''],
    ['broken JSON', '{"a":'],
    ['JSON with single quotes', "{'a': 1}"],
    ['trailing garbage', `${json(base)}}`],
  ] as const) {
    out.push({ label, body });
  }
  out.push({
    label: 'an unknown extra field',
    body: json({ ...base, unexpected_field: 1 }),
    field: 'unexpected_field',
  });
  out.push({
    label: 'a __proto__ key',
    body: `{"__proto__": {"role": "admin", "admin": true}, ${json(base).slice(1)}`.replace(/, }$/, '}'),
  });
  out.push({
    label: 'the wrong content type (text/plain)',
    body: json({ ...base, unexpected_field: 1 }),
    contentType: 'text/plain',
  });
  out.push({
    label: 'a form body',
    body: new URLSearchParams({ unexpected_field: '1' }).toString(),
    contentType: 'application/x-www-form-urlencoded',
  });

  const props = Object.entries(schema.properties ?? {});
  for (const name of schema.required ?? []) {
    const { [name]: _, ...rest } = base;
    out.push({ label: `missing ${name}`, body: json(rest), field: name });
  }
  for (const [name, prop] of props) {
    for (const v of wrongTypes(prop)) {
      out.push({
        label: `${name}: wrong type ${json(v).slice(0, 20)}`,
        body: json({ ...base, [name]: v }),
        field: name,
      });
    }
    for (const [what, v] of outOfRange(prop)) {
      const body =
        v && typeof v === 'object' && 'raw' in (v as object)
          ? withRaw(base, name, (v as { raw: string }).raw)
          : json({ ...base, [name]: v });
      out.push({ label: `${name}: ${what}`, body, field: name });
    }
  }
  // Invalid UTF-8 inside the first string field (bytes 0xC3 0x28 and a lone 0xFF).
  const firstString = props.find(([, p]) => typeOf(p) === 'string')?.[0];
  if (firstString) {
    const text = json({ ...base, [firstString]: '__bad_utf8__' });
    const [head, tail] = text.split('__bad_utf8__') as [string, string];
    out.push({
      label: `${firstString}: invalid UTF-8`,
      body: Buffer.concat([
        Buffer.from(head),
        Buffer.from([0x61, 0xc3, 0x28, 0xff, 0x62]),
        Buffer.from(tail),
      ]),
      field: firstString,
      utf8: true,
    });
  }
  out.push({
    label: 'a body that is not UTF-8 at all',
    body: new Uint8Array([0xff, 0xfe, 0x00, 0x7b, 0x00, 0x7d]),
    utf8: true,
  });
  return out;
}

/** Bad values for query and path parameters. */
export function badParams(params: Param[]): Array<{ param: Param; label: string; value: string }> {
  const out: Array<{ param: Param; label: string; value: string }> = [];
  for (const p of params) {
    if (p.in !== 'query' && p.in !== 'path') continue;
    const s = p.schema;
    const t = typeOf(s);
    const add = (label: string, value: string) =>
      out.push({ param: p, label: `${p.in} ${p.name}: ${label}`, value });
    if (t === 'integer' || t === 'number') {
      add('not a number', 'abc');
      add('fractional', '1.5');
      add('huge', '99999999999999999999999');
      if (s.minimum !== undefined) add('below the minimum', String(s.minimum - 1));
      if (s.maximum !== undefined) add('above the maximum', String(s.maximum + 1));
    } else if (t === 'boolean') add('not a boolean', 'maybe');
    else if (t === 'string') {
      if (s.format === 'uuid' || p.in === 'path') {
        add('not an id', 'not-an-id');
        add('SQL', SQL);
        add('a path traversal', '../../../etc/passwd');
        add('300 characters', 'x'.repeat(300));
      }
      if (s.enum) add('not one of the values', 'not_an_option');
      if (s.pattern && p.in === 'query') add('HTML', HTML);
      if (s.maxLength !== undefined) add('too long', 'x'.repeat(s.maxLength + 1));
      if (s.format === 'date-time') add('not a date', 'yesterday');
    }
  }
  return out;
}
