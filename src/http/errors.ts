import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { AppError, type ErrorCode } from '../lib/errors';
import { type Logger, scrub } from '../lib/logger';
import type { AppEnv } from './env';

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_request' }),
      message: z.string(),
      details: z.unknown().optional(),
      request_id: z.string(),
    }),
  })
  .openapi('Error');

export const errorResponses = {
  400: { description: 'Invalid request', content: { 'application/json': { schema: ErrorSchema } } },
  401: { description: 'Not authenticated', content: { 'application/json': { schema: ErrorSchema } } },
  403: { description: 'Not allowed', content: { 'application/json': { schema: ErrorSchema } } },
} as const;

/** The error envelope of every error answer. */
export function errorEnvelope(requestId: string, code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }), request_id: requestId } };
}

export function errorBody(c: Context<AppEnv>, code: string, message: string, details?: unknown) {
  return errorEnvelope(c.get('requestId') ?? '', code, message, details);
}

export function renderError(
  c: Context<AppEnv>,
  code: ErrorCode | string,
  status: number,
  message: string,
  details?: unknown,
) {
  return c.json(errorBody(c, code, message, details), status as ContentfulStatusCode);
}

/** Zod issues as `{path, message}` with dotted paths, so a client sees which field is wrong. */
export const zodDetails = (error: ZodError) => ({
  fields: error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message, code: i.code })),
});

export const validationError = (error: ZodError) => {
  const first = error.issues[0];
  const where = first?.path.length ? first.path.join('.') : 'body';
  return new AppError(
    'invalid_request',
    `Invalid ${where}: ${first?.message ?? 'invalid input'}`,
    zodDetails(error),
  );
};

/** What a thrown error is answered with: the envelope's parts and any header of its own. */
export interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  headers?: Record<string, string>;
}

/**
 * The one place that decides how a thrown error is answered (the app's `handleError`, and the lanes that
 * answer the errors of their own work: src/http/lanes.ts). An unexpected error is logged here.
 */
export function errorAnswer(err: Error, context: { logger?: Logger; requestId?: string }): ErrorAnswer {
  if (err instanceof AppError) {
    const retry =
      err.code === 'rate_limited'
        ? (err.details as { retry_after_seconds?: number } | undefined)?.retry_after_seconds
        : undefined;
    return {
      status: err.status,
      code: err.code,
      message: err.message,
      details: err.details,
      ...(retry ? { headers: { 'Retry-After': String(retry) } } : {}),
    };
  }
  if (err instanceof HTTPException) {
    const status = err.status;
    const code =
      status === 413
        ? 'payload_too_large'
        : status === 401
          ? 'unauthorized'
          : status === 404
            ? 'not_found'
            : 'invalid_request';
    return { status, code, message: err.message || 'Invalid request' };
  }
  const stripeLike = err as { type?: string; statusCode?: number; code?: string; raw?: unknown };
  if (typeof stripeLike.type === 'string' && stripeLike.type.startsWith('Stripe')) {
    const card = stripeLike.type === 'StripeCardError';
    return {
      status: card ? 402 : 502,
      code: card ? 'card_declined' : 'stripe_error',
      message: scrub(err.message),
      details: { stripe_code: stripeLike.code ?? null },
    };
  }
  context.logger?.error(
    { err: { message: scrub(err.message), stack: err.stack }, request_id: context.requestId },
    'unhandled error',
  );
  return { status: 500, code: 'internal_error', message: 'Internal error' };
}

/** The app's error handler: `errorAnswer` as a response. */
export function handleError(err: Error, c: Context<AppEnv>) {
  const answer = errorAnswer(err, { logger: c.get('deps')?.logger, requestId: c.get('requestId') });
  for (const [name, value] of Object.entries(answer.headers ?? {})) c.header(name, value);
  return renderError(c, answer.code, answer.status, answer.message, answer.details);
}
