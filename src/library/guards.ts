import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Principal } from '../modules/auth/auth.service';
import { can } from '../modules/entitlements/entitlements.service';
import type { EntitlementDeps } from '../modules/entitlements/entitlements.types';

export type UserResolver = (c: Context) => string | null | undefined | Promise<string | null | undefined>;

export interface RequireFeatureOptions {
  /** Default: the Paywire app's `c.get('deps')`. Host apps pass their Paywire dependencies. */
  deps?: EntitlementDeps;
  /** Who asks. Default: the Paywire principal's user id. Host apps return the user they authenticated. */
  user?: UserResolver;
}

function errorResponse(c: Context, status: number, code: string, message: string, details?: unknown) {
  const requestId = (c.get('requestId' as never) as string | undefined) ?? '';
  return c.json(
    { error: { code, message, ...(details === undefined ? {} : { details }), request_id: requestId } },
    status as ContentfulStatusCode,
  );
}

/**
 * Route guard for a feature (SPEC section 6): the handler runs only when `can(user, feature)`;
 * otherwise 401 (nobody signed in) or 403 `forbidden` with `details.feature`.
 */
export function requireFeature(feature: string, opts: RequireFeatureOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    const deps = opts.deps ?? (c.get('deps' as never) as EntitlementDeps);
    const userId = opts.user
      ? await opts.user(c)
      : (c.get('principal' as never) as Principal | null | undefined)?.user.id;
    if (!userId) return errorResponse(c, 401, 'unauthorized', 'Authentication required');
    if (!(await can(deps, userId, feature))) {
      return errorResponse(c, 403, 'forbidden', `Your plan does not include ${feature}`, { feature });
    }
    return next();
  };
}
