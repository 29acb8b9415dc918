import type { Child } from 'hono/jsx';

/** The person looking at a page, as the layout needs it. */
export interface Viewer {
  id: string;
  email: string;
  name: string | null;
  role: 'user' | 'admin';
}

export interface PageFrame {
  viewer: Viewer | null;
  /** CSRF token of a cookie session: embedded for the forms and scripts of the page. */
  csrf: string | null;
}

interface LayoutProps extends PageFrame {
  title: string;
  /** Which main-menu entry is current. */
  section?: 'home' | 'pricing' | 'try' | 'account' | 'admin' | 'auth';
  /** Module scripts from /assets (no inline scripts: the page CSP allows 'self' only). */
  scripts?: string[];
  /** Draw the page's [data-chart] elements with uPlot (served from node_modules). */
  charts?: boolean;
  children?: Child;
}

const NAV: Array<{
  href: string;
  label: string;
  section: LayoutProps['section'];
  when: 'always' | 'user' | 'admin';
}> = [
  { href: '/pricing', label: 'Pricing', section: 'pricing', when: 'always' },
  { href: '/try', label: 'Try the AI feature', section: 'try', when: 'always' },
  { href: '/account/billing', label: 'Account', section: 'account', when: 'user' },
  { href: '/admin', label: 'Admin', section: 'admin', when: 'admin' },
];

export function Layout(props: LayoutProps) {
  const { viewer, csrf } = props;
  const links = NAV.filter(
    (n) =>
      n.when === 'always' ||
      (n.when === 'user' && viewer) ||
      (n.when === 'admin' && viewer?.role === 'admin'),
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Paywire`}</title>
        <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/app.css" />
        {props.charts ? <link rel="stylesheet" href="/assets/vendor/uPlot.min.css" /> : null}
        {csrf ? <meta name="csrf-token" content={csrf} /> : null}
        {props.charts ? <script defer src="/assets/vendor/uPlot.iife.min.js" /> : null}
        <script type="module" src="/assets/app.js" />
        {props.charts ? <script type="module" src="/assets/charts.js" /> : null}
        {(props.scripts ?? []).map((src) => (
          <script type="module" src={src} />
        ))}
      </head>
      <body data-signed-in={viewer ? 'true' : 'false'}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="site">
          <div class="wrap bar">
            <a class="brand" href="/">
              <span class="logo" aria-hidden="true">
                ◆
              </span>{' '}
              Paywire
            </a>
            <nav aria-label="Main">
              <ul>
                {links.map((n) => (
                  <li>
                    <a href={n.href} aria-current={props.section === n.section ? 'page' : undefined}>
                      {n.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
            <div class="who">
              {viewer ? (
                <form method="post" action="/logout" class="inline">
                  {csrf ? <input type="hidden" name="_csrf" value={csrf} /> : null}
                  <span class="email" data-testid="viewer-email">
                    {viewer.email}
                  </span>{' '}
                  <button type="submit" class="link">
                    Log out
                  </button>
                </form>
              ) : (
                <>
                  <a href="/login">Log in</a>{' '}
                  <a class="button small" href="/signup">
                    Sign up
                  </a>
                </>
              )}
            </div>
          </div>
        </header>
        <main id="main" class="wrap" tabindex={-1}>
          {props.children}
        </main>
        <footer class="site">
          <div class="wrap">
            Paywire · payments, subscriptions, entitlements and credits · <a href="/docs">API reference</a>
          </div>
        </footer>
      </body>
    </html>
  );
}

/** An announced message box: errors are alerts, the rest polite status updates. */
export function Notice(props: {
  kind: 'error' | 'info' | 'success' | 'warning';
  children?: Child;
  testid?: string;
}) {
  return (
    <div
      class={`notice ${props.kind}`}
      role={props.kind === 'error' ? 'alert' : 'status'}
      data-testid={props.testid}
    >
      {props.children}
    </div>
  );
}

/** Where a script writes the outcome of an action (screen readers hear it). */
export const StatusLine = (props: { id?: string; testid?: string }) => (
  <p class="status" id={props.id} role="status" aria-live="polite" data-status data-testid={props.testid} />
);

/** A table that scrolls sideways on a phone instead of squeezing its columns. */
export function TableWrap(props: { label: string; children?: Child }) {
  return (
    // A scrollable region is focusable so keyboard users can scroll it.
    <section class="table-wrap" aria-label={props.label} tabindex={0}>
      {props.children}
    </section>
  );
}

export const CsrfField = (props: { csrf: string | null }) =>
  props.csrf ? <input type="hidden" name="_csrf" value={props.csrf} /> : null;

export function ErrorPage(
  props: PageFrame & { status: number; title: string; message: string; action?: Child },
) {
  return (
    <Layout title={props.title} viewer={props.viewer} csrf={props.csrf}>
      <section class="card narrow error-page" data-testid="error-page">
        <p class="eyebrow">Error {props.status}</p>
        <h1>{props.title}</h1>
        <p>{props.message}</p>
        {props.action ?? (
          <p>
            <a href="/">Back to the home page</a>
          </p>
        )}
      </section>
    </Layout>
  );
}
