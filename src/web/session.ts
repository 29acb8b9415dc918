import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { CSRF_COOKIE, resolvePrincipal, SESSION_COOKIE } from '../http/auth';
import type { AppEnv } from '../http/env';
import { csrfTokenFor } from '../modules/auth/auth.service';
import type { WebEnv } from './env';

/**
 * Who is looking at a page: the same resolver as the API (Bearer token or the session cookie, with the
 * CSRF check on cookie-authenticated writes), plus the CSRF token the page embeds for its forms.
 */
export const pagePrincipal: MiddlewareHandler<WebEnv> = async (c, next) => {
  await resolvePrincipal(c as unknown as Context<AppEnv>, async () => {
    const p = c.get('principal');
    c.set('csrf', p?.sessionId ? csrfTokenFor(c.get('deps').config.SESSION_SECRET, p.sessionId) : null);
    await next();
  });
};

/** Scripts ask for JSON; a person's browser navigating asks for HTML. */
export const wantsJson = (c: Context): boolean =>
  (c.req.header('accept') ?? '').includes('application/json') ||
  (c.req.header('content-type') ?? '').startsWith('application/json');

const hasControlCharacters = (s: string) =>
  [...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

/**
 * The local path to return to after logging in. Anything that could leave the site (`//host`,
 * `/\host`, `https://...`, control characters) falls back, so `next` is never an open redirect.
 */
export function safeNext(raw: string | null | undefined, fallback = '/account/billing'): string {
  if (!raw || raw.length > 2048 || !raw.startsWith('/')) return fallback;
  // Browsers read a backslash as a slash, so "/\evil.example" would be protocol-relative.
  if (raw.startsWith('//') || raw.includes('\\') || hasControlCharacters(raw)) return fallback;
  try {
    const base = 'http://paywire.invalid';
    const url = new URL(raw, base);
    if (url.origin !== base) return fallback;
    if (url.pathname === '/login' || url.pathname === '/signup' || url.pathname === '/logout')
      return fallback;
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return fallback;
  }
}

export const loginUrl = (next: string) => `/login?next=${encodeURIComponent(next)}`;

const currentPath = (c: Context) => {
  const url = new URL(c.req.url);
  return `${url.pathname}${url.search}`;
};

/** A page for signed-in people: others are sent to log in and brought back. */
export const requireUser: MiddlewareHandler<WebEnv> = async (c, next) => {
  if (c.get('principal')) return next();
  if (wantsJson(c)) {
    return c.json(
      { error: { code: 'unauthorized', message: 'Authentication required', request_id: c.get('requestId') } },
      401,
    );
  }
  return c.redirect(loginUrl(c.req.method === 'GET' ? currentPath(c) : new URL(c.req.url).pathname), 303);
};

/**
 * Login CSRF: log-in and sign-up forms have no session yet, so they accept only same-origin posts.
 * Browsers send Sec-Fetch-Site (or Origin) on every form post; a client that sends neither is not a
 * browser another site could drive.
 */
export function sameOriginPost(c: Context<WebEnv>): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site) return site === 'same-origin' || site === 'none';
  const origin = c.req.header('origin');
  if (!origin) return true;
  return origin === new URL(c.req.url).origin || origin === c.get('deps').config.PUBLIC_URL;
}

/** Sets the session and CSRF cookies exactly as the JSON log-in does. */
export function startPageSession(
  c: Context<WebEnv>,
  session: { token: string; expiresAt: Date; sessionId: string },
) {
  const config = c.get('deps').config;
  const secure = config.PUBLIC_URL.startsWith('https://');
  setCookie(c, SESSION_COOKIE, session.token, {
    httpOnly: true,
    sameSite: 'Lax',
    secure,
    path: '/',
    expires: session.expiresAt,
  });
  setCookie(c, CSRF_COOKIE, csrfTokenFor(config.SESSION_SECRET, session.sessionId), {
    httpOnly: false,
    sameSite: 'Lax',
    secure,
    path: '/',
    expires: session.expiresAt,
  });
}

export function endPageSession(c: Context<WebEnv>) {
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
  deleteCookie(c, CSRF_COOKIE, { path: '/' });
}
