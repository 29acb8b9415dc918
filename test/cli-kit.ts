import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, vi } from 'vitest';
import { buildCli } from '../src/cli/index';
import { type Emulator, startEmulator } from '../src/emulator/index';

async function admin(statement: string) {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  await client.query(statement);
  await client.end();
}

/**
 * The environment of a CLI test, as an operator has it: configuration from process.env, PGlite in a
 * temporary data directory (or a fresh PostgreSQL database with TEST_DATABASE_URL), and with
 * `emulator: true` a standalone emulator reached through STRIPE_API_BASE. Registers its own hooks.
 */
export function useCliEnvironment(name: string, options: { emulator?: boolean } = {}) {
  const state: { emu?: Emulator; dir?: string; pgName?: string } = {};
  const saved = { ...process.env };
  beforeAll(async () => {
    state.dir = mkdtempSync(join(tmpdir(), `paywire-${name}-`));
    process.env.PAYWIRE_DATA_DIR = state.dir;
    process.env.LOG_LEVEL = 'silent';
    delete process.env.DATABASE_URL;
    if (options.emulator) {
      state.emu = await startEmulator({ port: 0 });
      process.env.STRIPE_API_BASE = state.emu.url;
      process.env.STRIPE_ENABLED = 'true';
      delete process.env.STRIPE_SECRET_KEY;
    }
    if (process.env.TEST_DATABASE_URL) {
      state.pgName = `paywire_${name.replace(/\W/g, '_')}_${Date.now().toString(36)}`;
      await admin(`create database ${state.pgName}`);
      const url = new URL(process.env.TEST_DATABASE_URL);
      url.pathname = `/${state.pgName}`;
      process.env.DATABASE_URL = url.toString();
    }
  });
  afterAll(async () => {
    process.env = saved;
    await state.emu?.close();
    if (state.pgName) await admin(`drop database if exists ${state.pgName} with (force)`);
    if (state.dir) rmSync(state.dir, { recursive: true, force: true });
  });
  return {
    get emu(): Emulator {
      return state.emu!;
    },
    get dir(): string {
      return state.dir!;
    },
  };
}

/** Runs `paywire <args>` in process and returns what it printed on stdout. */
export async function paywire(...args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    await buildCli()
      .exitOverride()
      .parseAsync(['node', 'paywire', ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join('\n');
}
