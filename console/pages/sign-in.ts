import { useState } from 'preact/hooks';
import { api, setSessionToken } from '../api.js';
import { ErrorBox, fieldsOf, html } from '../ui.js';

/** The sign-in form (POST /api/v1/users/signin); keeps the session token for this tab. */
export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [error, setError] = useState<unknown>();
  const submit = async (e: Event) => {
    const f = fieldsOf(e);
    try {
      const r = await api<{ token: string }>('POST', '/api/v1/users/signin', { name: f.name, password: f.password }, undefined, null);
      setSessionToken(r.token);
      onSignedIn();
    } catch (err) {
      setError(err);
    }
  };
  return html`<main class="signin">
    <form class="card" onSubmit=${submit}>
      <h1>d7y console</h1>
      <label>User <input name="name" autocomplete="username" value="root" required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit">Sign in</button>
      <${ErrorBox} error=${error} />
    </form>
  </main>`;
}
