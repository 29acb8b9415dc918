export type SyncPhase =
  | 'products'
  | 'prices'
  | 'customers'
  | 'events'
  | 'subscriptions'
  | 'checkouts'
  | 'invoices'
  | 'charges'
  | 'disputes';

/** Called when a phase starts (done 0) and after each item. */
export type Progress = (phase: SyncPhase, done: number, total: number) => void;

export interface ObjectCounts {
  seen: number;
  /** Local state changed because of this object (created or updated). */
  changed: number;
  unchanged: number;
  /** Not Paywire's (no user) or nothing to apply. */
  skipped: number;
  failed: number;
}

export const zeroCounts = (): ObjectCounts => ({ seen: 0, changed: 0, unchanged: 0, skipped: 0, failed: 0 });

export interface SyncFailure {
  object: string;
  id: string;
  error: string;
}
