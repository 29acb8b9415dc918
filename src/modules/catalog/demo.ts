import { readFileSync } from 'node:fs';
import { seedDemoDiscounts } from '../discounts/demo';
import { parseCatalogFile } from './catalog-file';
import { type PushResult, pushCatalog } from './push';
import type { SyncDeps } from './sync';

export const DEMO_CATALOG_PATH = new URL('./demo.catalog.json', import.meta.url);

export function demoCatalog() {
  return parseCatalogFile(JSON.parse(readFileSync(DEMO_CATALOG_PATH, 'utf8')));
}

/**
 * Seeds the demo catalog (tiers free/pro/team and six prices) through the same code as
 * `paywire catalog push`, so a second start seeds nothing new. The caller decides when: only with
 * the emulator, never against a real Stripe account - refused here as a last line of defence.
 */
export async function seedDemoCatalog(
  deps: SyncDeps & { config?: { isProduction: boolean } },
): Promise<PushResult> {
  if (deps.config?.isProduction) throw new Error('The demo catalog is never seeded in production');
  if (deps.stripe && deps.stripe.getApiField('host') === 'api.stripe.com') {
    throw new Error(
      'The demo catalog is seeded only into the Stripe emulator, never into a real Stripe account',
    );
  }
  const result = await pushCatalog(deps, demoCatalog());
  const made = result.actions.length;
  if (made) deps.logger.info({ changes: made }, 'demo catalog seeded');
  await seedDemoDiscounts(deps); // WELCOME20 (issue 7)
  return result;
}
