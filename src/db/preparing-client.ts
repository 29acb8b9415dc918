import { createHash } from 'node:crypto';
import pg from 'pg';

/** Distinct statements a connection prepares at most; past that, queries go unnamed (planned each time). */
export const MAX_PREPARED_PER_CONNECTION = 500;

type QueryConfig = { text?: unknown; name?: unknown; values?: unknown };

/** The text of a query with parameters that nobody named (as `query(text, values)` or `query(config)`). */
function parameterisedText(config: unknown, values: unknown): string | null {
  if (typeof config === 'string') return Array.isArray(values) && values.length > 0 ? config : null;
  if (!config || typeof config !== 'object') return null;
  const c = config as QueryConfig;
  if (typeof c.text !== 'string' || c.name !== undefined) return null;
  const params = Array.isArray(values) ? values : c.values;
  return Array.isArray(params) && params.length > 0 ? c.text : null;
}

/** A statement's name from its text: the same text gets the same name on every connection. */
export const statementName = (text: string): string =>
  `pw_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;

/**
 * A pg client that prepares each parameterised statement once per connection (a named statement: the
 * server parses and plans it on first use, then only binds and executes it), as postgres.js does by
 * default. Drizzle sends every query as an unnamed statement, which PostgreSQL parses and plans anew each
 * time; on the webhook handlers' short primary-key statements that was about a fifth of both the app's
 * and PostgreSQL's CPU per event (bench:probe-webhooks).
 *
 * Statements are keyed by their text, so a query built with different values reuses its statement. A
 * connection prepares at most MAX_PREPARED_PER_CONNECTION distinct texts (texts that vary with their
 * input, such as `IN` lists of any length, cannot grow a server session's memory without bound); later
 * ones run unnamed. Prepared statements belong to the session and survive rolled-back transactions; the
 * ledger and the inbox already prepare theirs, so this asks nothing new of the deployment (a pooler in
 * front of PostgreSQL must keep sessions, or support protocol-level prepared statements).
 */
export class PreparingClient extends pg.Client {
  private readonly named = new Set<string>();
  /** The cap on distinct prepared texts (a subclass may lower it). */
  protected readonly maxPrepared: number = MAX_PREPARED_PER_CONNECTION;

  // biome-ignore lint/suspicious/noExplicitAny: pg's query() is a family of overloads; this forwards all of them.
  override query(config: any, values?: any, callback?: any): any {
    // biome-ignore lint/suspicious/noExplicitAny: see above.
    const forward = super.query.bind(this) as (...args: any[]) => any;
    const text = parameterisedText(config, values);
    if (text !== null) {
      const name = statementName(text);
      if (this.named.has(name) || this.named.size < this.maxPrepared) {
        this.named.add(name);
        const named = typeof config === 'string' ? { text, name } : { ...config, name };
        return forward(named, values, callback);
      }
    }
    return forward(config, values, callback);
  }
}
