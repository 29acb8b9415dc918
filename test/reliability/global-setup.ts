import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client';
import { migrate } from '../../src/db/migrate';
import { createDatabase, databaseUrl, dropDatabase, postgresBaseUrl } from './kit/db';
import { LOGS_DIR, RESULTS_DIR, SECRETS_DIR, STATS_DIR, type StatLine } from './kit/report';
import { type Finding, scanText } from './kit/secrets';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDb: string;
  }
}

/**
 * Refuses to run without PostgreSQL, migrates one template database that every test clones, and at the
 * end prints the summary, scans every log the suite wrote for secrets, and fails the run (exit code 1)
 * on a leak or a recorded mismatch - even if the file that recorded it was somehow reported green.
 */
export default async function setup(project: TestProject) {
  postgresBaseUrl(); // throws the clear "PostgreSQL only" message
  rmSync(RESULTS_DIR, { recursive: true, force: true });
  const template = `paywire_rel_tmpl_${process.pid}`;
  await dropDatabase(template);
  await createDatabase(template);
  const database = await openDatabase({ url: databaseUrl(template), poolSize: 2 });
  await migrate(database);
  await database.close();
  project.provide('templateDb', template);

  return async () => {
    await dropDatabase(template).catch(() => undefined);
    const problems = summarise();
    if (problems.length) {
      console.error(`\nRELIABILITY SUITE FAILED:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
      process.exitCode = 1;
    }
  };
}

const readJsonLines = <T>(dir: string): T[] =>
  existsSync(dir)
    ? readdirSync(dir).flatMap((f) =>
        readFileSync(join(dir, f), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as T),
      )
    : [];

function summarise(): string[] {
  const stats = readJsonLines<StatLine>(STATS_DIR);
  const total = (c: StatLine['counter']) => stats.filter((s) => s.counter === c).reduce((a, s) => a + s.n, 0);
  const labels = (c: StatLine['counter']) =>
    stats.filter((s) => s.counter === c && s.label).map((s) => s.label!);

  const pairs = [...new Set(labels('lifecycle_runs'))];
  const lifecycles = new Set(pairs.map((p) => p.split(' x ')[0]));
  const faults = new Set(pairs.map((p) => p.split(' x ')[1]));
  const matrices = labels('route_role_checks');

  const secrets = readJsonLines<{ kind: string; value: string }>(SECRETS_DIR);
  const unique = [...new Map(secrets.map((s) => [s.value, s])).values()];
  const findings: Finding[] = [];
  let lines = 0;
  const files = existsSync(LOGS_DIR) ? readdirSync(LOGS_DIR) : [];
  for (const f of files) {
    const text = readFileSync(join(LOGS_DIR, f), 'utf8');
    lines += text.split('\n').filter(Boolean).length;
    findings.push(...scanText(text, unique, f));
  }
  const mismatches = total('mismatches');

  const out = [
    '',
    'reliability summary',
    `  lifecycles x fault kinds run: ${lifecycles.size} x ${faults.size} = ${pairs.length} (runs: ${total('lifecycle_runs')}, plus ${total('baseline_runs')} in-order single-instance baselines)`,
    `  deliveries made: ${total('deliveries')}`,
    `  crashes injected: ${total('crashes')}`,
    `  routes x roles checked: ${matrices.join(' + ') || '0'} = ${total('route_role_checks')} (plus ${total('ownership_checks')} ownership and page checks)`,
    `  bad inputs tried: ${total('bad_inputs')}`,
    `  stripe failures injected: ${total('stripe_faults')}`,
    `  attacks tried: ${total('attacks')}`,
    `  secrets scan: ${lines} log lines from ${files.length} logs (${total('app_instances')} app instances), ${unique.length} known secrets, leaks: ${findings.length}`,
    `  mismatches: ${mismatches}`,
  ];
  console.log(out.join('\n'));

  const problems: string[] = [];
  for (const f of findings.slice(0, 20))
    problems.push(`secret in logs: ${f.kind} ${f.sample} (${f.file}:${f.line})`);
  if (findings.length > 20) problems.push(`... and ${findings.length - 20} more secrets in logs`);
  for (const m of labels('mismatches').slice(0, 20)) problems.push(`mismatch: ${m}`);
  if (mismatches && !labels('mismatches').length) problems.push(`${mismatches} mismatches`);
  return problems;
}
