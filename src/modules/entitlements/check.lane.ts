import type { Deps } from '../../deps';
import { accessDenied, bearerSecret, cachedAuthenticate } from '../../http/auth';
import { type Lane, singleHeader } from '../../http/lanes';
import { CheckQuery } from './entitlements.schemas';
import { ENTITLEMENTS_READ, subjectFor } from './entitlements.routes';
import { check } from './questions';

/**
 * `GET /entitlements/check` as a lane (src/http/lanes.ts): the route's decisions on the way to a 200 -
 * a Bearer credential (through the credential cache), the `entitlements:read` scope, the same query
 * schema, the same acting user (a service key's `user_id`: an existing non-admin user) - then the same
 * `check()`. Anything else (a session cookie, no or a bad credential, bad input, an unknown user) is left
 * to the route, which answers the error.
 */
export function checkLane(deps: Deps, path: string): Lane {
  return {
    path,
    async answer(req, query) {
      const header = singleHeader(req, 'authorization');
      const secret = header && bearerSecret(header);
      if (!secret) return null;
      const caller = await cachedAuthenticate(deps, secret);
      if (!caller || accessDenied(caller, ENTITLEMENTS_READ)) return null;
      const q = CheckQuery.safeParse(query);
      if (!q.success) return null;
      return check(deps, await subjectFor(deps, caller, q.data.user_id), q.data);
    },
  };
}
