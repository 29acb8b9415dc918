import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import { AppError } from '../../lib/errors';
import { login, logout, signup } from '../../modules/auth/auth.service';
import type { LoginThrottle } from '../../modules/auth/throttle';
import type { WebEnv } from '../env';
import { messageFor } from '../messages';
import { type AuthFormState, LoginPage, SignupPage } from '../pages/auth';
import { frameOf, pageHeaders, renderPage } from '../render';
import { endPageSession, pagePrincipal, safeNext, sameOriginPost, startPageSession } from '../session';

// The same rules as the JSON sign-up (src/modules/auth/auth.routes.ts), with sentences for people.
const SignupForm = z.object({
  email: z
    .email('Enter an email address such as name@example.com')
    .max(254, 'That email address is too long'),
  password: z.string().min(10, 'Use at least 10 characters').max(256, 'Use at most 256 characters'),
  name: z.string().trim().max(200, 'Use at most 200 characters').optional(),
});

function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'local'; // app.request() in tests has no socket
  }
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** `/login`, `/signup` and `POST /logout`: forms that work without any script. */
export function registerAuthPages(web: Hono<WebEnv>, throttle: LoginThrottle) {
  const base = [pageHeaders, pagePrincipal] as const;
  const authDeps = (c: Context<WebEnv>) => ({ ...c.get('deps'), throttle });

  const loginPage = (c: Context<WebEnv>, state: AuthFormState, status: 200 | 400 | 401 | 403 | 429 = 200) =>
    renderPage(c, <LoginPage {...frameOf(c)} {...state} />, status);
  const signupPage = (c: Context<WebEnv>, state: AuthFormState, status: 200 | 400 | 403 | 409 = 200) =>
    renderPage(c, <SignupPage {...frameOf(c)} {...state} />, status);

  web.get('/login', ...base, async (c) => {
    const next = safeNext(c.req.query('next'));
    if (c.get('principal')) return c.redirect(next, 303);
    const info = c.req.query('next') ? 'Please log in to continue.' : undefined;
    return loginPage(c, { next, info });
  });

  web.get('/signup', ...base, async (c) => {
    const next = safeNext(c.req.query('next'));
    if (c.get('principal')) return c.redirect(next, 303);
    return signupPage(c, { next });
  });

  web.post('/login', ...base, async (c) => {
    const form = await c.req.parseBody();
    const next = safeNext(text(form.next));
    const email = text(form.email).trim();
    if (!sameOriginPost(c)) return loginPage(c, { next, email, error: messageFor('csrf_failed') }, 403);
    if (!email || !text(form.password)) {
      return loginPage(
        c,
        {
          next,
          email,
          error: 'Enter your email and password.',
          fieldErrors: {
            email: email ? undefined : 'Enter your email',
            password: text(form.password) ? undefined : 'Enter your password',
          },
        },
        400,
      );
    }
    try {
      const session = await login(
        authDeps(c),
        { email: email.slice(0, 254), password: text(form.password).slice(0, 256) },
        clientAddress(c),
        c.req.header('user-agent'),
      );
      startPageSession(c, session);
      return c.redirect(next, 303);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'rate_limited') {
        const wait = (err.details as { retry_after_seconds?: number } | undefined)?.retry_after_seconds;
        if (wait) c.header('Retry-After', String(wait));
        return loginPage(c, { next, email, error: messageFor('rate_limited') }, 429);
      }
      if (err.code === 'unauthorized')
        return loginPage(c, { next, email, error: messageFor('wrong_credentials') }, 401);
      throw err;
    }
  });

  web.post('/signup', ...base, async (c) => {
    const form = await c.req.parseBody();
    const next = safeNext(text(form.next));
    const raw = {
      email: text(form.email).trim(),
      password: text(form.password),
      name: text(form.name).trim(),
    };
    const keep = { next, email: raw.email, name: raw.name };
    if (!sameOriginPost(c)) return signupPage(c, { ...keep, error: messageFor('csrf_failed') }, 403);
    const parsed = SignupForm.safeParse({ ...raw, name: raw.name || undefined });
    if (!parsed.success) {
      const fieldErrors: AuthFormState['fieldErrors'] = {};
      for (const issue of parsed.error.issues) {
        const key = issue.path[0] as 'email' | 'password' | 'name';
        fieldErrors[key] ??= issue.message;
      }
      return signupPage(c, { ...keep, error: 'Please correct the highlighted fields.', fieldErrors }, 400);
    }
    try {
      const session = await signup(authDeps(c), parsed.data, c.req.header('user-agent'));
      startPageSession(c, session);
      return c.redirect(next, 303);
    } catch (err) {
      if (err instanceof AppError && err.code === 'conflict') {
        return signupPage(c, { ...keep, error: messageFor('email_taken') }, 409);
      }
      throw err;
    }
  });

  web.post('/logout', ...base, async (c) => {
    const p = c.get('principal');
    if (p?.sessionId) await logout(c.get('deps'), p.sessionId);
    endPageSession(c);
    return c.redirect('/', 303);
  });
}
