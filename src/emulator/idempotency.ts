import { createHash } from 'node:crypto';

/**
 * Idempotency records: the first response to a POST with an `Idempotency-Key` (errors included) is
 * stored and replayed for the same key; the same key with other parameters, path or method is an
 * `idempotency_error`. Keys are scoped per API key, as at Stripe, and kept 24 h.
 */
export interface IdempotencyRecord {
  scope: string;
  fingerprint: string;
  status: number;
  body: string;
  created: number;
}

const TTL_MS = 24 * 3600 * 1000;

export class IdempotencyStore {
  private records = new Map<string, IdempotencyRecord>();

  static fingerprint(method: string, path: string, params: unknown): string {
    return createHash('sha256')
      .update(`${method} ${path} ${stableJson(params)}`)
      .digest('hex');
  }

  private key(apiKey: string, idemKey: string): string {
    return `${apiKey}\u0000${idemKey}`;
  }

  get(apiKey: string, idemKey: string): IdempotencyRecord | undefined {
    const r = this.records.get(this.key(apiKey, idemKey));
    if (r && Date.now() - r.created > TTL_MS) {
      this.records.delete(this.key(apiKey, idemKey));
      return undefined;
    }
    return r;
  }

  put(apiKey: string, idemKey: string, rec: Omit<IdempotencyRecord, 'scope' | 'created'>): void {
    this.records.set(this.key(apiKey, idemKey), { ...rec, scope: apiKey, created: Date.now() });
  }

  clear(): void {
    this.records.clear();
  }

  toJSON(): Array<[string, IdempotencyRecord]> {
    return [...this.records];
  }

  load(entries: Array<[string, IdempotencyRecord]>): void {
    this.records = new Map(entries);
  }
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
