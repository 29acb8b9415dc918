import type { Context, ErrorHandler, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { handleError } from '../http/errors';
import { AppError } from '../lib/errors';
import type { WebEnv } from './env';
import { messageFor } from './messages';
import { ErrorPage, type PageFrame, type Viewer } from './pages/layout';
import { loginUrl, wantsJson } from './session';

export const viewerOf = (c: Context<WebEnv>): Viewer | null => {
  const p = c.get('principal');
  return p ? { id: p.user.id, email: p.user.email, name: p.user.name, role: p.user.role } : null;
};

export const frameOf = (c: Context<WebEnv>): PageFrame => ({
  viewer: viewerOf(c),
  csrf: c.get('csrf') ?? null,
});

type Renderable = string | Promise<string> | { toString(): string | Promise<string> };

/** Sends a full HTML document. */
export async function renderPage(c: Context<WebEnv>, node: Renderable, status: ContentfulStatusCode = 200) {
  const html = await (typeof node === 'string' ? node : node.toString());
  return c.html(`<!doctype html>${html}`, status);
}

/**
 * The Content-Security-Policy of the pages: scripts, styles, fonts and fetches from this origin only, no
 * inline code, no framing; plus no-store, since pages carry personal data.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

export const pageHeaders: MiddlewareHandler<WebEnv> = async (c, next) => {
  await next();
  c.header('Content-Security-Policy', PAGE_CSP);
  c.header('Cache-Control', 'no-store');
  c.header('Referrer-Policy', 'same-origin');
};

const TITLES: Record<number, string> = {
  400: 'That did not work',
  401: 'Please log in',
  403: 'Not allowed',
  404: 'Page not found',
  429: 'Slow down',
  500: 'Something went wrong',
};

export function renderError(c: Context<WebEnv>, status: ContentfulStatusCode, message: string) {
  const title = TITLES[status] ?? 'Something went wrong';
  c.header('Content-Security-Policy', PAGE_CSP);
  c.header('Cache-Control', 'no-store');
  return renderPage(c, <ErrorPage {...frameOf(c)} status={status} title={title} message={message} />, status);
}

/** A signed-in non-admin on an admin page. */
export const forbiddenPage = (c: Context<WebEnv>) =>
  renderError(c, 403, 'This page is for administrators. You are signed in without admin rights.');

export const notFoundPage = (c: Context<WebEnv>) => renderError(c, 404, 'There is nothing at this address.');

/**
 * Errors on pages become an HTML page with a sentence (never the error envelope); scripts calling the
 * page's JSON routes get the usual envelope.
 */
export const pageError: ErrorHandler<WebEnv> = (err, c) => {
  if (wantsJson(c)) return handleError(err, c as never);
  if (err instanceof AppError) {
    if (err.code === 'unauthorized') return c.redirect(loginUrl(new URL(c.req.url).pathname), 303);
    return renderError(c, err.status, messageFor(err.code));
  }
  c.get('deps')?.logger.error(
    { err: { message: err.message, stack: err.stack }, path: c.req.path },
    'page failed',
  );
  return renderError(c, 500, messageFor('internal_error'));
};
