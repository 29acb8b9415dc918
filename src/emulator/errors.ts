/** Stripe-shaped errors. Throw them from any handler; the app turns them into Stripe's error body. */

export type StripeErrorType =
  | 'invalid_request_error'
  | 'api_error'
  | 'card_error'
  | 'idempotency_error'
  | 'authentication_error'
  | 'rate_limit_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  code?: string;
  message: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
  charge?: string;
  payment_intent?: unknown;
  payment_method?: unknown;
  request_log_url?: string;
}

export class StripeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

/** Builds the error; `doc_url` is derived from `code` as Stripe does. */
export function stripeError(
  status: number,
  body: Omit<StripeErrorBody, 'type'> & { type?: StripeErrorType },
  headers?: Record<string, string>,
): StripeHttpError {
  const full: StripeErrorBody = { type: body.type ?? 'invalid_request_error', ...body };
  if (full.code && !full.doc_url)
    full.doc_url = `https://stripe.com/docs/error-codes/${full.code.replace(/_/g, '-')}`;
  return new StripeHttpError(status, full, headers);
}

export function resourceMissing(kind: string, id: string, param = 'id'): StripeHttpError {
  return stripeError(404, { code: 'resource_missing', param, message: `No such ${kind}: '${id}'` });
}

export function invalidParam(
  param: string,
  message: string,
  code = 'parameter_invalid_string',
): StripeHttpError {
  return stripeError(400, { code, param, message });
}

export function missingParam(param: string): StripeHttpError {
  return stripeError(400, {
    code: 'parameter_missing',
    param,
    message: `Missing required param: ${param}.`,
  });
}
