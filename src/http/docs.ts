import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { Scalar } from '@scalar/hono-api-reference';
import type { Hono } from 'hono';
import type { AppEnv } from './env';

const require = createRequire(import.meta.url);
let scalarBundle: Promise<Buffer> | undefined;

/** `/docs`: the Scalar reference page, its script served from node_modules so it works offline. */
export function mountDocs(app: Hono<AppEnv>) {
  app.get('/docs/assets/scalar.js', async (c) => {
    // The package exports no subpath for its browser bundle, so find it beside the package's entry.
    scalarBundle ??= readFile(
      join(dirname(require.resolve('@scalar/api-reference')), 'browser/standalone.js'),
    );
    c.header('Content-Type', 'application/javascript; charset=utf-8');
    c.header('Cache-Control', 'public, max-age=86400');
    return c.body(new Uint8Array(await scalarBundle));
  });
  app.get(
    '/docs',
    Scalar({
      url: '/openapi.json',
      cdn: '/docs/assets/scalar.js',
      pageTitle: 'Paywire API',
      withDefaultFonts: false,
      telemetry: false,
    } as never),
  );
}
