/** Result entries (SPEC section 13: `{name, figure, unit, baseline, ratio, target, pass}`), the table, the file. */
import { writeFileSync } from 'node:fs';

export interface Entry {
  name: string;
  figure: number;
  unit: string;
  /** The same-run baseline in the same unit, or null when there is none. */
  baseline: number | null;
  /** figure / baseline. */
  ratio: number | null;
  /** The bound `pass` is judged on (on the ratio unless target_on says figure); null = reported only. */
  target: number | null;
  pass: boolean | null;
  target_on: 'ratio' | 'figure';
  /** 'higher': the figure must reach the target; 'lower' (latencies): stay under it. */
  better: 'higher' | 'lower';
  baseline_name: string | null;
  note?: string;
  p50_ms?: number;
  p99_ms?: number;
  baseline_p50_ms?: number;
  baseline_p99_ms?: number;
}

export interface EntryInput {
  name: string;
  figure: number;
  unit: string;
  baseline?: number | null;
  baselineName?: string;
  target?: number | null;
  targetOn?: 'ratio' | 'figure';
  better?: 'higher' | 'lower';
  note?: string;
  latency?: { p50Ms: number; p99Ms: number };
  baselineLatency?: { p50Ms: number; p99Ms: number };
}

const round = (v: number, digits = 3) => (Number.isFinite(v) ? Number(v.toPrecision(digits + 2)) : v);
const ms = (v: number) => Math.round(v * 1000) / 1000;

export function entry(e: EntryInput): Entry {
  const baseline = e.baseline ?? null;
  const ratio = baseline ? Math.round((e.figure / baseline) * 1000) / 1000 : null;
  const targetOn = e.targetOn ?? 'ratio';
  const better = e.better ?? 'higher';
  const target = e.target ?? null;
  const judged = targetOn === 'ratio' ? ratio : e.figure;
  const pass =
    target === null || judged === null ? null : better === 'higher' ? judged >= target : judged <= target;
  return {
    name: e.name,
    figure: round(e.figure),
    unit: e.unit,
    baseline: baseline === null ? null : round(baseline),
    ratio,
    target,
    pass,
    target_on: targetOn,
    better,
    baseline_name: e.baselineName ?? null,
    ...(e.note ? { note: e.note } : {}),
    ...(e.latency ? { p50_ms: ms(e.latency.p50Ms), p99_ms: ms(e.latency.p99Ms) } : {}),
    ...(e.baselineLatency
      ? { baseline_p50_ms: ms(e.baselineLatency.p50Ms), baseline_p99_ms: ms(e.baselineLatency.p99Ms) }
      : {}),
  };
}

const fmt = (v: number | null) =>
  v === null
    ? '-'
    : Math.abs(v) >= 100
      ? Math.round(v).toLocaleString('en-US')
      : String(Math.round(v * 100) / 100);

const fmtMs = (v: number) => (v >= 10 ? String(Math.round(v)) : v.toFixed(1));
const latencyText = (e: Entry) => (e.p50_ms === undefined ? '' : `${fmtMs(e.p50_ms)} / ${fmtMs(e.p99_ms!)}`);

function targetText(e: Entry): string {
  if (e.target === null) return 'reported';
  const op = e.better === 'higher' ? '>=' : '<=';
  return e.target_on === 'ratio' ? `${op} ${e.target}x` : `${op} ${fmt(e.target)} ${e.unit}`;
}

export function formatTable(entries: Entry[]): string {
  const rows = entries.map((e) => [
    e.name,
    `${fmt(e.figure)} ${e.unit}`,
    e.baseline === null ? '-' : `${fmt(e.baseline)} (${e.baseline_name})`,
    e.ratio === null ? '-' : `${e.ratio}x`,
    targetText(e),
    e.pass === null ? '' : e.pass ? 'PASS' : 'FAIL',
    latencyText(e),
  ]);
  const head = ['entry', 'figure', 'baseline', 'ratio', 'target', 'pass', 'p50 / p99 ms'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function writeResults(file: string, machine: Record<string, unknown>, entries: Entry[]) {
  const doc = { machine, date: new Date().toISOString(), entries };
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
}

/** The same table in Markdown (for the README and docs/benchmarks.md). */
export function formatMarkdown(entries: Entry[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const rows = entries.map((e) =>
    [
      `\`${e.name}\``,
      `${fmt(e.figure)} ${e.unit}`,
      e.baseline === null ? '-' : `${fmt(e.baseline)} (${e.baseline_name})`,
      e.ratio === null ? '-' : `${e.ratio}×`,
      targetText(e),
      e.pass === null ? '' : e.pass ? 'pass' : '**miss**',
      latencyText(e),
    ]
      .map(esc)
      .join(' | '),
  );
  return [
    '| entry | figure | baseline (same run) | ratio | target | | p50 / p99 ms |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}
