import { isUtf8 } from 'node:buffer';
import type { Deps } from '../../deps';
import { accessDenied, bearerSecret, cachedAuthenticate } from '../../http/auth';
import { type BodyLane, laneError, singleHeader } from '../../http/lanes';
import { actingUserFor, CREDITS_WRITE, idempotencyKeyFrom } from './credits.routes';
import { ConsumeBody } from './credits.schemas';
import { consume } from './credits.service';

/** The content types the lane takes; any other is the app's to judge. */
const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);

/**
 * `POST /credits/consume` as a lane (src/http/lanes.ts): the route's decisions on the way to its work,
 * through the same functions - a single Bearer credential (the credential cache), the `credits:write`
 * scope, valid UTF-8 JSON that the route's schema accepts, an idempotency key (body or a single
 * Idempotency-Key header), the acting user (a service key's `user_id`: an existing non-admin user) -
 * then the same `consume()`, answered as the route answers it: 200 with the result, or that work's error
 * (402 insufficient credits, 409 a key reused for another request, ...) as the app renders errors.
 * Everything the app judges before its handler - a cookie, no or a bad credential, a missing scope, a body
 * the schema refuses, an unknown or admin user - is left to the app, which answers the error.
 */
export function consumeLane(deps: Deps, path: string): BodyLane {
  return {
    path,
    accepts: (req) => {
      const type = req.headers['content-type'];
      return (
        req.headers.cookie === undefined &&
        typeof type === 'string' &&
        JSON_TYPES.has(type) &&
        singleHeader(req, 'authorization') !== undefined
      );
    },
    async answer(req, body, requestId) {
      const secret = bearerSecret(singleHeader(req, 'authorization') ?? '');
      if (!secret || !isUtf8(body)) return null;
      const caller = await cachedAuthenticate(deps, secret);
      if (!caller || accessDenied(caller, CREDITS_WRITE)) return null;
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString());
      } catch {
        return null;
      }
      const input = ConsumeBody.safeParse(parsed);
      if (!input.success) return null;
      let key: string;
      let userId: string;
      try {
        key = idempotencyKeyFrom(input.data.idempotency_key, singleHeader(req, 'idempotency-key'));
        userId = await actingUserFor(deps, caller, input.data.user_id);
      } catch {
        return null;
      }
      try {
        const result = await consume(deps, {
          userId,
          creditType: input.data.credit_type,
          amount: input.data.amount,
          idempotencyKey: key,
          description: input.data.description,
        });
        return { status: 200, body: result };
      } catch (err) {
        return laneError(deps, err, requestId);
      }
    },
  };
}
