import type { Context, HonoRequest, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { MAX_AMOUNT } from '../../lib/money';
import type { Principal } from '../auth/auth.service';
import { getBalance } from './credits.queries';
import { commitReservation, releaseReservation, reserve } from './credits.service';
import type { CreditsDeps } from './credits.types';

/** What a guarded handler finds in `c.get('credits')`. */
export interface CreditCharge {
  credit_type: string;
  /** What will be charged when the handler succeeds. */
  credits_consumed: number;
  /** The balance once it is charged. */
  remaining_balance: number;
  /** The id the usage row will have (null when the cost was 0). */
  transaction_id: string | null;
  reservation_id: string | null;
}

/** Hono variables the guard sets; add to a host app's Env to type `c.get('credits')`. */
export interface CreditsVariables {
  credits: CreditCharge;
}

export interface GuardUser {
  id: string;
  [key: string]: unknown;
}

export type CreditCost =
  | number
  | ((request: HonoRequest, user: GuardUser, c: Context) => number | Promise<number>);

export interface RequireCreditsOptions {
  description?: string;
  /** How long the hold lives if the handler never finishes (default 300 s); it then releases itself. */
  ttlSeconds?: number;
  /** Default: the Paywire app's `c.get('deps')`. Host apps pass their Paywire dependencies. */
  deps?: CreditsDeps;
  /** Who pays. Default: the Paywire principal's user. Host apps return the user they authenticated. */
  user?: (
    c: Context,
  ) => GuardUser | string | null | undefined | Promise<GuardUser | string | null | undefined>;
}

const setCharge = (c: Context, charge: CreditCharge) =>
  (c as unknown as Context<{ Variables: CreditsVariables }>).set('credits', charge);

function errorResponse(c: Context, status: number, code: string, message: string, details?: unknown) {
  const requestId = (c.get('requestId' as never) as string | undefined) ?? '';
  return c.json(
    { error: { code, message, ...(details === undefined ? {} : { details }), request_id: requestId } },
    status as ContentfulStatusCode,
  );
}

async function resolveUser(c: Context, opts: RequireCreditsOptions): Promise<GuardUser | null> {
  if (opts.user) {
    const u = await opts.user(c);
    if (!u) return null;
    return typeof u === 'string' ? { id: u } : u;
  }
  const principal = c.get('principal' as never) as Principal | null | undefined;
  return principal ? { ...principal.user } : null;
}

/**
 * Route guard for credit-priced work (SPEC section 7): holds the cost before the handler runs (402 if the
 * user cannot pay, and the handler never runs), commits it when the handler succeeds and releases it when
 * the handler throws or answers an error status. The hold's idempotency key is the request's
 * `Idempotency-Key` header (or a new one): a retried request with the same key is refused with 409 rather
 * than run and charged again.
 */
export function requireCredits(
  creditType: string,
  cost: CreditCost,
  opts: RequireCreditsOptions = {},
): MiddlewareHandler {
  return async (c, next) => {
    const deps = opts.deps ?? (c.get('deps' as never) as CreditsDeps);
    const user = await resolveUser(c, opts);
    if (!user) return errorResponse(c, 401, 'unauthorized', 'Authentication required');
    const amount = typeof cost === 'function' ? await cost(c.req, user, c) : cost;
    if (!Number.isSafeInteger(amount) || amount < 0 || amount > MAX_AMOUNT) {
      throw new Error(`requireCredits: the cost must be an integer from 0 to 10^12 (got ${amount})`);
    }
    if (amount === 0) {
      const { available } = await getBalance(deps, user.id, creditType);
      setCharge(c, {
        credit_type: creditType,
        credits_consumed: 0,
        remaining_balance: available,
        transaction_id: null,
        reservation_id: null,
      });
      return next();
    }
    const key = c.req.header('idempotency-key') ?? `guard:${newId()}`;
    let hold: Awaited<ReturnType<typeof reserve>>;
    try {
      hold = await reserve(deps, {
        userId: user.id,
        creditType,
        amount,
        idempotencyKey: key,
        ttlSeconds: opts.ttlSeconds ?? 300,
        description: opts.description ?? null,
      });
    } catch (err) {
      if (err instanceof AppError && err.code === 'insufficient_credits') {
        deps.metrics?.creditConsumptions.insufficient.inc();
      }
      if (err instanceof AppError) return errorResponse(c, err.status, err.code, err.message, err.details);
      throw err;
    }
    if (hold.replayed) {
      return errorResponse(
        c,
        409,
        'idempotency_conflict',
        'A request with this Idempotency-Key was already made',
        {
          reservation_id: hold.reservation_id,
        },
      );
    }
    const usageId = newId();
    setCharge(c, {
      credit_type: creditType,
      credits_consumed: amount,
      remaining_balance: hold.remaining_balance,
      transaction_id: usageId,
      reservation_id: hold.reservation_id,
    });

    const release = () =>
      releaseReservation(deps, { reservationId: hold.reservation_id }).catch((err) =>
        deps.logger?.error(
          { err: String(err), reservation_id: hold.reservation_id },
          'credits hold release failed',
        ),
      );
    try {
      await next();
    } catch (err) {
      await release();
      throw err;
    }
    if (c.error || c.res.status >= 400) {
      await release();
      return;
    }
    try {
      await commitReservation(deps, { reservationId: hold.reservation_id, transactionId: usageId });
      deps.metrics?.creditConsumptions.consumed.inc();
    } catch (err) {
      // The work is done and answered; the hold returns itself at its TTL, so the user is not charged.
      deps.logger?.error(
        { err: String(err), reservation_id: hold.reservation_id },
        'credits hold commit failed',
      );
    }
  };
}
