import { CsrfField, Layout, Notice, type PageFrame } from './layout';

export interface AuthFormState {
  next: string;
  email?: string;
  name?: string;
  /** A sentence for the whole form. */
  error?: string;
  /** Sentences per field. */
  fieldErrors?: Partial<Record<'email' | 'password' | 'name', string>>;
  /** Shown above the form (e.g. "log in to continue"). */
  info?: string;
}

const FieldError = (props: { id: string; text?: string }) =>
  props.text ? (
    <p class="field-error" id={props.id}>
      {props.text}
    </p>
  ) : null;

export function LoginPage(props: PageFrame & AuthFormState) {
  const fe = props.fieldErrors ?? {};
  return (
    <Layout title="Log in" section="auth" viewer={props.viewer} csrf={props.csrf}>
      <section class="card narrow">
        <h1>Log in</h1>
        {props.info ? <Notice kind="info">{props.info}</Notice> : null}
        {props.error ? (
          <Notice kind="error" testid="form-error">
            {props.error}
          </Notice>
        ) : null}
        <form method="post" action="/login" novalidate>
          <CsrfField csrf={props.csrf} />
          <input type="hidden" name="next" value={props.next} />
          <label for="email">Email</label>
          <input
            id="email"
            name="email"
            type="email"
            autocomplete="email"
            required
            value={props.email ?? ''}
            aria-invalid={fe.email ? 'true' : undefined}
            aria-describedby={fe.email ? 'email-error' : undefined}
          />
          <FieldError id="email-error" text={fe.email} />
          <label for="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            aria-invalid={fe.password ? 'true' : undefined}
            aria-describedby={fe.password ? 'password-error' : undefined}
          />
          <FieldError id="password-error" text={fe.password} />
          <div class="actions">
            <button type="submit">Log in</button>
          </div>
        </form>
        <p class="muted small after-form">
          New here? <a href={`/signup?next=${encodeURIComponent(props.next)}`}>Create an account</a>
        </p>
      </section>
    </Layout>
  );
}

export function SignupPage(props: PageFrame & AuthFormState) {
  const fe = props.fieldErrors ?? {};
  return (
    <Layout title="Sign up" section="auth" viewer={props.viewer} csrf={props.csrf}>
      <section class="card narrow">
        <h1>Create your account</h1>
        {props.info ? <Notice kind="info">{props.info}</Notice> : null}
        {props.error ? (
          <Notice kind="error" testid="form-error">
            {props.error}
          </Notice>
        ) : null}
        <form method="post" action="/signup" novalidate>
          <CsrfField csrf={props.csrf} />
          <input type="hidden" name="next" value={props.next} />
          <label for="name">
            Name <span class="hint">Optional</span>
          </label>
          <input
            id="name"
            name="name"
            type="text"
            autocomplete="name"
            maxlength={200}
            value={props.name ?? ''}
            aria-invalid={fe.name ? 'true' : undefined}
            aria-describedby={fe.name ? 'name-error' : undefined}
          />
          <FieldError id="name-error" text={fe.name} />
          <label for="email">Email</label>
          <input
            id="email"
            name="email"
            type="email"
            autocomplete="email"
            required
            value={props.email ?? ''}
            aria-invalid={fe.email ? 'true' : undefined}
            aria-describedby={fe.email ? 'email-error' : undefined}
          />
          <FieldError id="email-error" text={fe.email} />
          <label for="password">
            Password <span class="hint">At least 10 characters. A long phrase is easiest to remember.</span>
          </label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="new-password"
            required
            minlength={10}
            aria-invalid={fe.password ? 'true' : undefined}
            aria-describedby={fe.password ? 'password-error' : undefined}
          />
          <FieldError id="password-error" text={fe.password} />
          <div class="actions">
            <button type="submit">Create account</button>
          </div>
        </form>
        <p class="muted small after-form">
          Already have an account? <a href={`/login?next=${encodeURIComponent(props.next)}`}>Log in</a>
        </p>
      </section>
    </Layout>
  );
}
