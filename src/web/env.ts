import type { AppEnv } from '../http/env';
import type { CreditsVariables } from '../modules/credits/guard';

/** Hono variables of the page router: the app's, plus what the page middleware and the credits guard set. */
export interface WebEnv {
  Variables: AppEnv['Variables'] &
    Partial<CreditsVariables> & {
      /** The CSRF token of a cookie session, for forms and scripts on the page (null for Bearer callers). */
      csrf: string | null;
      /** The /try prompt, checked before the credits guard holds anything. */
      prompt: string;
    };
}
