import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What every reliability test file tells the global teardown (test/reliability/global-setup.ts): counters
 * for the summary, the secrets it handed to the app (so the log scan knows what to look for), and the log
 * output of every app instance it started. Worker processes write files; the teardown reads them all.
 */
export const RESULTS_DIR = join(process.cwd(), 'test-results', 'reliability');
export const STATS_DIR = join(RESULTS_DIR, 'stats');
export const LOGS_DIR = join(RESULTS_DIR, 'logs');
export const SECRETS_DIR = join(RESULTS_DIR, 'secrets');

export type Counter =
  | 'lifecycle_runs'
  | 'baseline_runs'
  | 'deliveries'
  | 'crashes'
  | 'route_role_checks'
  | 'ownership_checks'
  | 'bad_inputs'
  | 'stripe_faults'
  | 'attacks'
  | 'mismatches'
  | 'app_instances';

export interface StatLine {
  counter: Counter;
  n: number;
  /** e.g. the lifecycle x fault pair of a run, the route x role of a check */
  label?: string;
}

let ensured = false;
function ensureDirs() {
  if (ensured) return;
  for (const d of [STATS_DIR, LOGS_DIR, SECRETS_DIR]) mkdirSync(d, { recursive: true });
  ensured = true;
}

/** Adds to a counter of the final summary (appended synchronously: a crash of the worker keeps it). */
export function count(counter: Counter, n = 1, label?: string): void {
  ensureDirs();
  const line: StatLine = { counter, n, ...(label ? { label } : {}) };
  appendFileSync(join(STATS_DIR, `${process.pid}.jsonl`), `${JSON.stringify(line)}\n`);
}

/** Records a mismatch for the summary and returns the message, for the failing assertion. */
export function mismatch(message: string): string {
  count('mismatches', 1, message.slice(0, 300));
  return message;
}

export type SecretKind =
  | 'password'
  | 'session_token'
  | 'api_key'
  | 'webhook_secret'
  | 'stripe_key'
  | 'card'
  | 'csrf_token'
  | 'session_secret';

/** A value that must never appear in any log line of the suite. */
export function registerSecret(kind: SecretKind, value: string | null | undefined): void {
  if (!value) return;
  ensureDirs();
  appendFileSync(join(SECRETS_DIR, `${process.pid}.jsonl`), `${JSON.stringify({ kind, value })}\n`);
}

let logSeq = 0;

/** Writes one app instance's (or child process's) log output for the final scan. */
export function saveLog(name: string, lines: string[] | string): string {
  ensureDirs();
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80);
  const file = join(LOGS_DIR, `${process.pid}-${++logSeq}-${safe}.log`);
  writeFileSync(file, Array.isArray(lines) ? lines.join('') : lines);
  return file;
}
