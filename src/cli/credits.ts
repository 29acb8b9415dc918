import type { Command } from 'commander';
import type { Deps } from '../deps';
import { systemClock } from '../lib/clock';
import { AppError } from '../lib/errors';
import { isUuid } from '../lib/ids';
import { createInvalidationBus } from '../lib/invalidation';
import { createLogger } from '../lib/logger';
import { getBalance } from '../modules/credits/credits.queries';
import { assertFuture, assertPool } from '../modules/credits/credits.service';
import { assertAmount, assertCreditType } from '../modules/credits/credits.types';
import { grantCreditEntitlement, transact } from '../modules/entitlements/entitlements.service';
import { findUserByEmail, getUser } from '../modules/users/users.service';
import { withDatabase } from './context';
import { loadConfig } from '../config';

interface GrantOptions {
  user: string;
  type: string;
  amount: string;
  pool: string;
  reason: string;
  expiresAt?: string;
  idempotencyKey?: string;
  reference?: string;
}

/** `paywire credits grant`: the same operation as POST /api/v1/admin/credits/grant. */
export function registerCreditsCommands(program: Command): void {
  const credits = program.command('credits').description('credit balances and grants');
  credits
    .command('grant')
    .description('grant credits to a user (a CREDIT_GRANT entitlement and its ledger bucket)')
    .requiredOption('--user <id-or-email>', 'the user, by id or email')
    .requiredOption('--type <credit_type>', 'credit type, e.g. ai_tokens')
    .requiredOption('--amount <n>', 'a positive integer')
    .option(
      '--pool <pool>',
      'subscription_allowance | purchased | bonus | promotional | trial | rollover | top_up',
      'bonus',
    )
    .requiredOption('--reason <text>', 'why (recorded on the ledger row)')
    .option('--expires-at <iso>', 'expiry, ISO-8601 (default: never)')
    .option('--idempotency-key <key>', 'makes a retried command grant once')
    .option('--reference <id>', 'the Stripe object behind the grant (cs_, pi_, in_)')
    .action(async (opts: GrantOptions) => {
      // Everything checkable is checked before the database is opened: a refusal costs nothing.
      const amount = Number(opts.amount);
      const expiresAt = opts.expiresAt ? new Date(opts.expiresAt) : null;
      if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new Error('--expires-at is not a valid date');
      try {
        assertCreditType(loadConfig(), opts.type);
        assertAmount(amount);
        assertPool(opts.pool);
        assertFuture({ clock: systemClock }, expiresAt);
      } catch (err) {
        if (err instanceof AppError) throw new Error(err.message);
        throw err;
      }
      await withDatabase(async (database, config) => {
        const logger = createLogger({ level: 'warn' });
        const invalidation = createInvalidationBus(database, logger);
        const deps = {
          config,
          database,
          db: database.db,
          logger,
          clock: systemClock,
          wallClock: systemClock,
          stripe: null,
          invalidation,
        } satisfies Deps;
        try {
          await invalidation.ready;
          const user = isUuid(opts.user)
            ? await getUser(deps.db, opts.user)
            : await findUserByEmail(deps.db, opts.user);
          if (!user) throw new Error(`No user ${opts.user}`);
          const result = await transact(deps, (tx) =>
            grantCreditEntitlement(deps, tx, {
              userId: user.id,
              creditType: opts.type,
              amount,
              pool: opts.pool,
              reason: opts.reason,
              expiresAt,
              referenceId: opts.reference ?? null,
              idempotencyKey: opts.idempotencyKey,
            }),
          );
          const balance = await getBalance(deps, user.id, opts.type);
          console.log(
            `${result.created ? 'Granted' : 'Already granted (same idempotency key):'} ${amount} ${opts.type} to ${user.email} ` +
              `(pool ${opts.pool}, grant ${result.bucketId}). Available now: ${balance.available}.`,
          );
        } catch (err) {
          if (err instanceof AppError) throw new Error(err.message);
          throw err;
        } finally {
          await invalidation.close();
        }
      });
    });
}
