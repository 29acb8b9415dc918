import { hash, randomBytes } from 'node:crypto';
import { uuidv7 } from 'uuidv7';

/** Our own primary keys: time-ordered UUIDv7 strings. */
export const newId = (): string => uuidv7();

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string): boolean => UUID_RE.test(value);

/** An opaque secret with a readable prefix, e.g. `pws_...` for sessions. */
export const newSecret = (prefix: string, bytes = 32): string =>
  `${prefix}_${randomBytes(bytes).toString('base64url')}`;

/**
 * Secrets are stored only as their SHA-256; lookups hash the presented value. One-shot `hash()` (not
 * createHash) because every authenticated request pays it, cache hit or not.
 */
export const hashSecret = (secret: string): string => hash('sha256', secret, 'hex');
