import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Stable, snake_case error codes of the public API (SPEC section 13). */
export const errorStatus = {
  invalid_request: 400,
  unauthorized: 401,
  insufficient_credits: 402,
  insufficient_quantity: 402,
  card_declined: 402,
  forbidden: 403,
  csrf_failed: 403,
  not_found: 404,
  no_subscription: 404,
  conflict: 409,
  email_taken: 409,
  subscription_exists: 409,
  idempotency_conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal_error: 500,
  stripe_error: 502,
  stripe_disabled: 503,
  webhook_failed: 500,
  webhook_not_configured: 503,
  not_ready: 503,
  shutting_down: 503,
  discount_expired: 400,
  discount_exhausted: 400,
  discount_not_applicable: 400,
  discount_scope: 400,
  discount_inactive: 400,
  discount_already_used: 400,
  discount_not_found: 404,
  price_inactive: 400,
  requirement_not_met: 403,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  get status(): ContentfulStatusCode {
    return errorStatus[this.code];
  }
}

export const notFound = (what: string, details?: unknown) =>
  new AppError('not_found', `${what} not found`, details);
export const forbidden = (message = 'You may not do this') => new AppError('forbidden', message);
export const unauthorized = (message = 'Authentication required') => new AppError('unauthorized', message);
export const invalid = (message: string, details?: unknown) =>
  new AppError('invalid_request', message, details);
