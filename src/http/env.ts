import type { Deps } from '../deps';
import type { Principal } from '../modules/auth/auth.service';

/** Hono context variables set by the app's middleware. */
export interface AppEnv {
  Variables: {
    deps: Deps;
    requestId: string;
    principal: Principal | null;
  };
}
