/**
 * The log scan: what counts as a leaked secret in a line of log output. Known values (the passwords,
 * tokens, keys and webhook secrets the suite handed out) are matched exactly; shapes are matched too, so a
 * secret the suite never saw (a key the emulator made, a token minted by a sign-up) is caught as well.
 */
export interface Finding {
  kind: string;
  /** The matched text, shortened so the report itself does not repeat the secret. */
  sample: string;
  file?: string;
  line: number;
}

const SHAPES: Array<{ kind: string; re: RegExp }> = [
  { kind: 'session_token', re: /\bpws_[A-Za-z0-9_-]{16,}/g },
  { kind: 'api_key', re: /\bpwk_[A-Za-z0-9_-]{16,}/g },
  { kind: 'webhook_secret', re: /\bwhsec_[A-Za-z0-9+/=]{8,}/g },
  { kind: 'stripe_key', re: /\b(?:sk|rk)_(?:test|live)_[A-Za-z0-9]{8,}/g },
  { kind: 'stripe_signature', re: /\bv1=[0-9a-f]{64}\b/g },
];

// 13 to 19 digits, optionally grouped by spaces or dashes, standing alone (not the tail of a UUID or an id).
const CARD_RE = /(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])/g;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * A primary account number: 15 to 19 digits, a card network's leading digit, Luhn-valid. (13-digit runs
 * are left out: they are millisecond timestamps, and every test card the suite uses has 16 digits.)
 */
export function looksLikeCard(text: string): boolean {
  const digits = text.replace(/[ -]/g, '');
  return digits.length >= 15 && digits.length <= 19 && /^[3-6]/.test(digits) && luhnValid(digits);
}

const shorten = (s: string) =>
  s.length <= 12 ? `${s.slice(0, 4)}…` : `${s.slice(0, 10)}…(${s.length} chars)`;

export function scanText(
  text: string,
  known: Array<{ kind: string; value: string }>,
  file?: string,
): Finding[] {
  const findings: Finding[] = [];
  const lines = text.split('\n');
  // Long secrets first, so a password that contains a shorter one is reported once as itself.
  const secrets = known.filter((k) => k.value.length >= 6).sort((a, b) => b.value.length - a.value.length);
  lines.forEach((line, i) => {
    for (const s of secrets) {
      if (line.includes(s.value))
        findings.push({ kind: s.kind, sample: shorten(s.value), file, line: i + 1 });
    }
    for (const { kind, re } of SHAPES) {
      for (const m of line.matchAll(re)) findings.push({ kind, sample: shorten(m[0]), file, line: i + 1 });
    }
    for (const m of line.matchAll(CARD_RE)) {
      if (looksLikeCard(m[0]))
        findings.push({ kind: 'card_number', sample: shorten(m[0]), file, line: i + 1 });
    }
  });
  return findings;
}
