/** Child processes for the servers under test: each one prints `READY <url>` once it listens. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ChildServer {
  url: string;
  pid: number;
  /** Resident set size now, in MB (the server process itself). */
  rssMb(): number;
  /** Samples RSS every 100 ms until the returned function is called; it answers the peak in MB. */
  sampleRss(): () => number;
  output(): string;
  stop(): Promise<void>;
}

export const serverScript = (name: string) =>
  fileURLToPath(new URL(`../servers/${name}.ts`, import.meta.url));

export function rssMbOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** `node --import tsx <script>` with `env` added to ours; resolves when it prints READY. */
export async function startChild(
  script: string,
  env: Record<string, string>,
  opts: { timeoutMs?: number; nodeArgs?: string[] } = {},
) {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return waitReady(child, opts.timeoutMs ?? 60_000);
}

export function waitReady(child: ChildProcess, timeoutMs: number): Promise<ChildServer> {
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before it was ready:\n${out}`));
    });
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.length > 100_000) out = out.slice(-50_000);
      const m = /READY (\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.removeListener('data', onData);
      child.stdout!.on('data', (x) => (out += x.toString()));
      const pid = child.pid!;
      resolve({
        url: m[1]!,
        pid,
        rssMb: () => rssMbOf(pid),
        sampleRss() {
          let peak = rssMbOf(pid);
          const t = setInterval(() => {
            peak = Math.max(peak, rssMbOf(pid));
          }, 100);
          return () => {
            clearInterval(t);
            return Math.max(peak, rssMbOf(pid));
          };
        },
        output: () => out,
        async stop() {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(killer);
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => {
      out += d.toString();
    });
  });
}

/**
 * The product as every benchmark and probe runs it (bench/servers/app.ts: `startServer`, what `npm start`
 * runs) on `databaseUrl` with `dataDir`, jobs off (they poll on a timer and would land inside a
 * measurement) and warnings only; `env` adds the Stripe settings. `nodeArgs`: node flags for profiling,
 * e.g. `--cpu-prof --cpu-prof-dir=prof`.
 */
export function startApp(
  databaseUrl: string,
  dataDir: string,
  env: Record<string, string>,
  nodeArgs?: string,
): Promise<ChildServer> {
  return startChild(
    serverScript('app'),
    {
      NODE_ENV: 'development',
      DATABASE_URL: databaseUrl,
      PORT: '0',
      HOST: '127.0.0.1',
      PAYWIRE_DATA_DIR: dataDir,
      JOBS_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      ...env,
    },
    { nodeArgs: nodeArgs?.split(' ').filter(Boolean) },
  );
}
