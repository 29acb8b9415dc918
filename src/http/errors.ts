import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { AppError, type ErrorCode } from '../lib/errors';
import { scrub } from '../lib/logger';
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

export function errorBody(c: Context<AppEnv>, code: string, message: string, details?: unknown) {
  return {
    error: {
      code,
      message,
      ...(details === undefined ? {} : { details }),
      request_id: c.get('requestId') ?? '',
    },
  };
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

/** The one place that turns a thrown error into the error envelope. */
export function handleError(err: Error, c: Context<AppEnv>) {
  if (err instanceof AppError) {
    if (err.code === 'rate_limited') {
      const retry = (err.details as { retry_after_seconds?: number } | undefined)?.retry_after_seconds;
      if (retry) c.header('Retry-After', String(retry));
    }
    return renderError(c, err.code, err.status, err.message, err.details);
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
    return renderError(c, code, status, err.message || 'Invalid request');
  }
  const stripeLike = err as { type?: string; statusCode?: number; code?: string; raw?: unknown };
  if (typeof stripeLike.type === 'string' && stripeLike.type.startsWith('Stripe')) {
    const card = stripeLike.type === 'StripeCardError';
    return renderError(c, card ? 'card_declined' : 'stripe_error', card ? 402 : 502, scrub(err.message), {
      stripe_code: stripeLike.code ?? null,
    });
  }
  c.get('deps')?.logger.error(
    { err: { message: scrub(err.message), stack: err.stack }, request_id: c.get('requestId') },
    'unhandled error',
  );
  return renderError(c, 'internal_error', 500, 'Internal error');
}
