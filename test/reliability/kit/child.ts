import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type ApiCaller, api } from '../../harness';
import { count, saveLog } from './report';

const MAIN = join(process.cwd(), 'src', 'main.ts');

/** A free TCP port (a restarted app comes back on the same one, where Stripe's retries go). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/**
 * The product started exactly as `npm start` starts it (src/main.ts), in its own process, so that it can
 * be killed with SIGKILL. Its stdout and stderr are kept for the secrets scan.
 */
export interface ChildApp {
  url: string;
  call: ApiCaller;
  proc: ChildProcess;
  /** Resolves when the process has exited, with the signal that ended it (SIGKILL for an injected crash). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
  stop(): Promise<void>;
}

export async function startChild(name: string, env: Record<string, string>, port: number): Promise<ChildApp> {
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: process.cwd(),
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: url,
      LOG_LEVEL: 'trace',
      JOBS_ENABLED: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  count('app_instances');
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  proc.stderr!.on('data', (d) => {
    out += d;
  });
  let saved = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      if (!saved) {
        saved = true;
        saveLog(`child-${name}`, out);
      }
      resolve({ code, signal });
    });
  });
  const started = Date.now();
  while (!out.includes('Paywire is running at')) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${name} did not start:\n${out.slice(-3000)}`);
    }
    if (Date.now() - started > 60_000) {
      proc.kill('SIGKILL');
      throw new Error(`${name} did not start within 60 s:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    call: api({ request: (path, init) => fetch(`${url}${path}`, { ...init, redirect: 'manual' }) }),
    proc,
    exited,
    output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
