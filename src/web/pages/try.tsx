import type { Offer } from '../data/offers';
import { count, money } from '../format';
import { CsrfField, Layout, Notice, type PageFrame, StatusLine } from './layout';

export interface TryState {
  balance: number;
  cost: number;
  /** The credit pack offered when tokens run out (credits_10k in the demo catalog). */
  pack: Offer | null;
  prompt?: string;
  result?: { output: string; consumed: number; remaining: number };
  outOfCredits?: { needed: number; available: number };
  error?: string;
}

export function TryPage(props: PageFrame & TryState) {
  const out = props.outOfCredits;
  return (
    <Layout
      title="Try the AI feature"
      section="try"
      viewer={props.viewer}
      csrf={props.csrf}
      scripts={['/assets/try.js']}
    >
      <h1>Try the AI feature</h1>
      <p class="muted">
        Each run costs {count(props.cost)} AI tokens, charged through the <code>requireCredits</code> route
        guard: held before the work starts, charged when it succeeds, returned if it fails. The text is made
        up; the credits are real.
      </p>

      <div class="grid two">
        <section class="card" aria-labelledby="balance-heading">
          <p class="eyebrow" id="balance-heading">
            Your AI tokens
          </p>
          <div class="stat">
            <div class="value" id="try-balance" data-testid="try-balance">
              {count(props.balance)}
            </div>
            <div class="label">available</div>
          </div>
          <p class="small">
            <a href="/account/billing">See your credit history</a>
          </p>
        </section>

        <section class="card" aria-labelledby="prompt-heading">
          <h2 id="prompt-heading">Ask for something</h2>
          {props.error ? <Notice kind="error">{props.error}</Notice> : null}
          <form id="try-form" method="post" action="/try/generate" novalidate>
            <CsrfField csrf={props.csrf} />
            <label for="prompt">
              What should it write about? <span class="hint">Up to 500 characters.</span>
            </label>
            <textarea id="prompt" name="prompt" maxlength={500} required>
              {props.prompt ?? 'A pricing page for a small AI startup'}
            </textarea>
            <div class="actions">
              <button type="submit" id="try-run">
                Generate · {count(props.cost)} tokens
              </button>
            </div>
            <StatusLine testid="try-status" />
          </form>
        </section>
      </div>

      <section
        class="card"
        id="try-out-of-credits"
        data-testid="out-of-credits"
        data-scope
        hidden={!out}
        aria-labelledby="out-heading"
        tabindex={-1}
      >
        <h2 id="out-heading">You are out of AI tokens</h2>
        <p id="try-needed">
          {out
            ? `This run needs ${count(out.needed)} tokens and you have ${count(out.available)}.`
            : 'This run needs more tokens than you have.'}
        </p>
        <div class="actions">
          {props.pack ? (
            <button
              type="button"
              class="buy"
              data-lookup-key={props.pack.lookupKey ?? undefined}
              data-price-id={props.pack.priceId}
              data-testid="buy-credits"
            >
              Buy {props.pack.productName} for {money(props.pack.amount, props.pack.currency)}
            </button>
          ) : null}
          <a href={`/pricing#${props.pack?.lookupKey ?? 'credits_10k'}`}>See all credit packs</a>
        </div>
        <StatusLine />
      </section>

      <section class="card" id="try-result" hidden={!props.result} aria-labelledby="result-heading">
        <h2 id="result-heading">Result</h2>
        <div class="output" id="try-output" data-testid="try-output">
          {props.result?.output ?? ''}
        </div>
        <p class="muted small" id="try-charge" data-testid="try-charge">
          {props.result
            ? `Used ${count(props.result.consumed)} tokens; ${count(props.result.remaining)} left.`
            : ''}
        </p>
      </section>
    </Layout>
  );
}

/** The "AI": made-up text, deterministic, so tests and demos can rely on it. */
export function fakeGenerate(prompt: string): string {
  const topic = prompt.trim().replace(/\s+/g, ' ').slice(0, 120);
  return [
    `Three ideas for “${topic}”:`,
    `1. Start with the smallest version of ${topic} that someone would pay for.`,
    '2. Measure how people use it before you add anything.',
    '3. Charge for the part that costs you money to run, and say so plainly.',
  ].join('\n');
}
