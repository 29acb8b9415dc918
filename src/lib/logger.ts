import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Paths never written to logs, wherever they appear in a logged object. */
export const REDACT_PATHS = [
  'password',
  'token',
  'key',
  'secret',
  'card',
  'number',
  'authorization',
  'cookie',
  '*.password',
  '*.token',
  '*.key',
  '*.secret',
  '*.card',
  '*.number',
  '*.authorization',
  '*.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["stripe-signature"]',
  '*.headers["set-cookie"]',
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const base = { level: options.level ?? 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } },
    });
  }
  return pino(base);
}

/** Strips anything that looks like a secret from free text before it is logged (error messages). */
export function scrub(text: string): string {
  return text
    .replace(/\b(sk|rk|pk)_(test|live)_[A-Za-z0-9]+/g, '$1_$2_[redacted]')
    .replace(/\bwhsec_[A-Za-z0-9+/=]+/g, 'whsec_[redacted]')
    .replace(/\bpw[sk]_[A-Za-z0-9_-]+/g, '[redacted-token]')
    .replace(/\b\d{13,19}\b/g, '[redacted-number]');
}
