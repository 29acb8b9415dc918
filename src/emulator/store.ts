import { randomBytes } from 'node:crypto';
import { resourceMissing } from './errors';

/**
 * In-memory object store. Each collection is an insertion-ordered Map from id to the object exactly as
 * the API returns it (relations as id strings; expansion happens on the way out). Lists come out newest
 * first by reversing insertion order, which stays stable when many objects share a `created` second.
 * Collections whose name starts with `_` hold private emulator data (never served directly).
 */
export type StoredObject = { id: string; [key: string]: unknown };

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i] % ALPHABET.length];
  return out;
}

export class Store {
  private cols = new Map<string, Map<string, StoredObject>>();
  private changeListeners: Array<() => void> = [];

  /** A Stripe-looking id: `cus_` + 24 random base62 characters ("1" marks test-mode ids at Stripe). */
  newId(prefix: string): string {
    return `${prefix}_1${randomToken(23)}`;
  }

  private col(name: string): Map<string, StoredObject> {
    let c = this.cols.get(name);
    if (!c) {
      c = new Map();
      this.cols.set(name, c);
    }
    return c;
  }

  insert<T extends { id: string }>(collection: string, obj: T): T {
    this.col(collection).set(obj.id, obj as unknown as StoredObject);
    this.changed();
    return obj;
  }

  get<T = StoredObject>(collection: string, id: string): T | undefined {
    return this.cols.get(collection)?.get(id) as T | undefined;
  }

  has(collection: string, id: string): boolean {
    return this.cols.get(collection)?.has(id) ?? false;
  }

  /** Like get, but throws Stripe's 404 `resource_missing` naming `kind` and `param`. */
  require<T = StoredObject>(collection: string, id: string, kind: string, param = 'id'): T {
    const obj = this.get<T>(collection, id);
    if (!obj) throw resourceMissing(kind, id, param);
    return obj;
  }

  /** Objects are mutated in place by handlers; call save() afterwards so persistence notices. */
  save<T extends { id: string }>(collection: string, obj: T): T {
    return this.insert(collection, obj);
  }

  delete(collection: string, id: string): boolean {
    const ok = this.cols.get(collection)?.delete(id) ?? false;
    if (ok) this.changed();
    return ok;
  }

  /** Insertion order (oldest first). */
  all<T = StoredObject>(collection: string): T[] {
    return [...(this.cols.get(collection)?.values() ?? [])] as T[];
  }

  /** Finds an object by id in any public collection (used by expand). */
  findAnywhere(id: string): { collection: string; obj: StoredObject } | undefined {
    for (const [name, c] of this.cols) {
      if (name.startsWith('_')) continue;
      const obj = c.get(id);
      if (obj) return { collection: name, obj };
    }
    return undefined;
  }

  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  changed(): void {
    for (const l of this.changeListeners) l();
  }

  clear(): void {
    this.cols.clear();
    this.changed();
  }

  toJSON(): Record<string, StoredObject[]> {
    const out: Record<string, StoredObject[]> = {};
    for (const [name, c] of this.cols) out[name] = [...c.values()];
    return out;
  }

  load(data: Record<string, StoredObject[]>): void {
    this.cols.clear();
    for (const [name, list] of Object.entries(data)) {
      this.cols.set(name, new Map(list.map((o) => [o.id, o])));
    }
  }
}
