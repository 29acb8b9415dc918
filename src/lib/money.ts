/**
 * Money is an integer amount of the currency's minor unit plus an ISO currency code. This is the one
 * place that knows how many decimals a currency has.
 */
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);

export const currencyDecimals = (currency: string): number =>
  ZERO_DECIMAL.has(currency.toLowerCase()) ? 0 : 2;

/** Formats minor units for people, e.g. 1999 usd -> "$19.99", 500 jpy -> "¥500". */
export function formatMoney(amount: number | bigint, currency: string, locale = 'en-US'): string {
  const decimals = currencyDecimals(currency);
  const value = Number(amount) / 10 ** decimals;
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: currency.toUpperCase(),
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  }).format(value);
}

export const MAX_AMOUNT = 1_000_000_000_000; // 10^12 minor units: the largest amount any endpoint accepts

export const isValidAmount = (n: unknown): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && n <= MAX_AMOUNT;
