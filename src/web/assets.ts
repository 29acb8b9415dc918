import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { currencyDecimals } from '../lib/money';
import type { WebEnv } from './env';
import { MESSAGES } from './messages';

const require = createRequire(import.meta.url);
const ASSET_DIR = join(dirname(fileURLToPath(import.meta.url)), 'assets');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Vendor files served from node_modules (no CDN: the pages work offline). */
const VENDOR: Record<string, string> = {
  'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

/**
 * The shared data of the browser scripts, generated from the server's own tables so the two never
 * disagree: error sentences and the currencies without minor units.
 */
function messagesModule(): string {
  const zeroDecimal = Intl.supportedValuesOf('currency')
    .map((c) => c.toLowerCase())
    .filter((c) => currencyDecimals(c) === 0);
  return `export const MESSAGES = ${JSON.stringify(MESSAGES)};\nexport const ZERO_DECIMAL = ${JSON.stringify(zeroDecimal)};\n`;
}

/** `/assets/*`: the pages' own files (a fixed list read at start, so no path can escape the folder). */
export function assetRoutes() {
  const app = new Hono<WebEnv>();
  const own = new Set(readdirSync(ASSET_DIR).filter((f) => TYPES[extname(f)]));
  const cache = new Map<string, Promise<Buffer>>();
  const messages = messagesModule();

  const send = (c: import('hono').Context, body: string | Uint8Array, type: string) => {
    c.header('Content-Type', type);
    // Short: the files change with the code, and there is no build step to fingerprint them.
    c.header('Cache-Control', 'public, max-age=300');
    c.header('X-Content-Type-Options', 'nosniff');
    return c.body(body as never);
  };

  app.get('/assets/messages.js', (c) => send(c, messages, TYPES['.js']!));
  app.get('/assets/vendor/:file', async (c) => {
    const target = VENDOR[c.req.param('file')];
    if (!target) return c.notFound();
    let file = cache.get(target);
    if (!file) {
      file = readFile(require.resolve(target));
      cache.set(target, file);
    }
    return send(c, new Uint8Array(await file), TYPES[extname(target)]!);
  });
  app.get('/assets/:file', async (c) => {
    const name = c.req.param('file');
    if (!own.has(name)) return c.notFound();
    let file = cache.get(name);
    if (!file) {
      file = readFile(join(ASSET_DIR, name));
      cache.set(name, file);
    }
    return send(c, new Uint8Array(await file), TYPES[extname(name)]!);
  });
  return app;
}
