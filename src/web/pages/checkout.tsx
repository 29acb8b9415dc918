import { Layout, Notice, type PageFrame } from './layout';

/**
 * Back from the hosted checkout. The script asks GET /api/v1/payments/checkout/{id} until the purchase is
 * fulfilled (that call fulfils it itself if the webhook has not arrived yet), then opens the account page.
 */
export function CheckoutSuccessPage(props: PageFrame & { sessionId: string | null }) {
  return (
    <Layout
      title="Payment received"
      section="account"
      viewer={props.viewer}
      csrf={props.csrf}
      scripts={['/assets/checkout.js']}
    >
      <section class="card narrow" id="checkout-result" data-session-id={props.sessionId ?? undefined}>
        <p class="eyebrow">Checkout</p>
        <h1 id="checkout-title">Thank you!</h1>
        {props.sessionId ? (
          <>
            <p id="checkout-state" role="status" aria-live="polite" data-testid="checkout-state">
              Confirming your payment…
            </p>
            <noscript>
              <p>
                Your payment is being confirmed. <a href="/account/billing">Open your account</a> in a few
                seconds to see it.
              </p>
            </noscript>
          </>
        ) : (
          <Notice kind="warning">
            This page was opened without a checkout reference. Your account page shows what you have bought.
          </Notice>
        )}
        <div class="actions">
          <a class="button" href="/account/billing" id="to-account">
            Go to your account
          </a>
          <a class="button secondary" href="/try">
            Try the AI feature
          </a>
        </div>
      </section>
    </Layout>
  );
}

export function CheckoutCancelPage(props: PageFrame) {
  return (
    <Layout title="Checkout cancelled" section="pricing" viewer={props.viewer} csrf={props.csrf}>
      <section class="card narrow">
        <p class="eyebrow">Checkout</p>
        <h1>Checkout cancelled</h1>
        <p>Nothing was charged. You can pick a plan again whenever you like.</p>
        <div class="actions">
          <a class="button" href="/pricing">
            Back to pricing
          </a>
          <a class="button secondary" href="/">
            Home
          </a>
        </div>
      </section>
    </Layout>
  );
}
