/**
 * The interaction pages' content: login, consent, logout, and the error pages. Plain forms that work without
 * JavaScript; every field has a visible label and every button says what it does.
 */
import { html, type SafeHtml } from './html';

/** A page title and body, rendered by `sendPage`. */
export interface PageContent {
  title: string;
  content: SafeHtml;
}

/** A sign-in button of an IdentityProvider: a link, so it works without JavaScript and without a form post. */
export interface ProviderButton {
  label: string;
  href: string;
  logoUri?: string;
}

/** Data for the login form. */
export interface LoginView {
  action: string;
  interaction: string;
  csrf: string;
  clientName: string;
  email?: string;
  error?: string;
  /** One button per active IdentityProvider of the project. */
  providers?: ProviderButton[];
  /**
   * `email`: the email-first step (Email and Continue; users of a configured domain go to their provider);
   * `password` (default): email and password.
   */
  step?: 'email' | 'password';
}

function providerButtons(providers: ProviderButton[]): SafeHtml | string {
  if (providers.length === 0) return '';
  const items = providers.map(
    (p) => html`<li><a class="button" href="${p.href}">${p.logoUri ? html`<img src="${p.logoUri}" alt="" width="20" height="20"> ` : ''}${p.label}</a></li>`,
  );
  return html`<ul class="providers">${items}</ul>
<p class="divider">or</p>
`;
}

/**
 * The sign-in page: a button per identity provider, then the email step or the email and password form.
 * @param view - form action, hidden fields, client name, providers and any error to show
 * @returns the page
 */
export function loginPage(view: LoginView): PageContent {
  const error = view.error ? html`<p class="error" role="alert" id="login-error">${view.error}</p>` : '';
  const describedBy = view.error ? html` aria-describedby="login-error"` : '';
  const form =
    view.step === 'email'
      ? html`<form method="post" action="${view.action}"${describedBy}>
<input type="hidden" name="interaction" value="${view.interaction}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="step" value="email">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${view.email ?? ''}">
<button type="submit">Continue</button>
</form>`
      : html`<form method="post" action="${view.action}"${describedBy}>
<input type="hidden" name="interaction" value="${view.interaction}">
<input type="hidden" name="csrf" value="${view.csrf}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${view.email ?? ''}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`;
  return {
    title: 'Sign in',
    content: html`<p class="client">to continue to <strong>${view.clientName}</strong></p>
${error}
${providerButtons(view.providers ?? [])}${form}`,
  };
}

/** One scope on the consent page. */
export interface ConsentScope {
  scope: string;
  /** The scope in plain language. */
  text: string;
}

/** Data for the consent form. */
export interface ConsentView {
  action: string;
  interaction: string;
  csrf: string;
  clientName: string;
  userLabel: string;
  /** Resource scopes: a ticked checkbox each, which the user may untick. */
  choosable: ConsentScope[];
  /** Scopes granted with any Allow: shown ticked and disabled. */
  fixed: ConsentScope[];
}

function scopeList(scopes: ConsentScope[], choosable: boolean): SafeHtml {
  const items = scopes.map((s, i) => {
    const id = `${choosable ? 'scope' : 'fixed'}-${String(i + 1)}`;
    // A disabled box is never posted: the fixed scopes are granted by Allow itself, not by the form.
    const box = choosable
      ? html`<input type="checkbox" id="${id}" name="scope" value="${s.scope}" checked>`
      : html`<input type="checkbox" id="${id}" checked disabled>`;
    return html`<li>${box} <label for="${id}">${s.text} <code>${s.scope}</code></label></li>`;
  });
  return html`<ul class="scopes">${items}</ul>`;
}

/**
 * The consent form: what the client asks for, a checkbox per resource scope, Allow or Deny. Unticking a box
 * leaves that scope out of the grant; the fixed scopes come with any Allow.
 * @param view - form action, hidden fields and the scopes in plain language
 * @returns the page
 */
export function consentPage(view: ConsentView): PageContent {
  const choosable =
    view.choosable.length > 0
      ? html`<fieldset>
<legend>Choose what to allow (untick what you do not want to share)</legend>
${scopeList(view.choosable, true)}
</fieldset>
`
      : '';
  const fixed =
    view.fixed.length > 0
      ? html`<fieldset>
<legend>Always included when you allow</legend>
${scopeList(view.fixed, false)}
</fieldset>
`
      : '';
  return {
    title: 'Allow access?',
    content: html`<p class="client"><strong>${view.clientName}</strong> wants to:</p>
<form method="post" action="${view.action}">
<input type="hidden" name="interaction" value="${view.interaction}">
<input type="hidden" name="csrf" value="${view.csrf}">
${choosable}${fixed}<p>Signed in as ${view.userLabel}.</p>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  };
}

/**
 * The sign-out confirmation (a form, so that a cross-site link cannot sign the user out).
 * @param action - the form action
 * @param csrf - the session's CSRF token
 * @param userLabel - who is signed in
 * @returns the page
 */
export function logoutConfirmPage(action: string, csrf: string, userLabel: string): PageContent {
  return {
    title: 'Sign out?',
    content: html`<p>You are signed in as ${userLabel}.</p>
<form method="post" action="${action}">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Sign out</button>
</form>`,
  };
}

/**
 * Shown after sign-out, or when there was no session.
 * @returns the page
 */
export function signedOutPage(): PageContent {
  return { title: 'Signed out', content: html`<p>You are signed out. You can close this window.</p>` };
}

/**
 * An error page (authorization requests that cannot be redirected, expired interactions, CSRF failures).
 * @param title - the heading
 * @param message - what went wrong, in plain language
 * @param code - the OAuth error code, when there is one
 * @returns the page
 */
export function errorPage(title: string, message: string, code?: string): PageContent {
  return {
    title,
    content: html`<p class="error" role="alert">${message}</p>${code ? html`<p>Error code: <code>${code}</code></p>` : ''}`,
  };
}

/** One patient in the picker's list. */
export interface PickerPatient {
  id: string;
  name: string;
  birthDate?: string;
}

/** Data for the patient picker. */
export interface PatientPickerView {
  action: string;
  interaction: string;
  csrf: string;
  clientName: string;
  name: string;
  birthdate: string;
  /** Undefined before a search. */
  patients?: PickerPatient[];
  error?: string;
  limit: number;
}

function pickerResults(view: PatientPickerView): SafeHtml | string {
  if (view.error) return html`<p class="error" role="alert">${view.error}</p>`;
  if (!view.patients) return '';
  if (view.patients.length === 0) return html`<p role="status">No patients found that you may choose.</p>`;
  const rows = view.patients.map(
    (p) => html`<li><form method="post" action="${view.action}">
<input type="hidden" name="interaction" value="${view.interaction}">
<input type="hidden" name="csrf" value="${view.csrf}">
<input type="hidden" name="patient" value="${p.id}">
<span class="patient">${p.name}${p.birthDate ? html`, born ${p.birthDate}` : ''}</span>
<button type="submit" aria-label="Choose ${p.name}${p.birthDate ? `, born ${p.birthDate}` : ''}">Choose</button>
</form></li>`,
  );
  const more = view.patients.length >= view.limit ? html`<p>Showing the first ${String(view.limit)} matches; refine the search to find others.</p>` : '';
  return html`<h2>Patients</h2><ul class="patients">${rows}</ul>${more}`;
}

/**
 * The patient picker of a standalone launch: a search form (GET) and a Choose button per patient (POST).
 * @param view - the search, its results and the hidden fields
 * @returns the page
 */
export function patientPickerPage(view: PatientPickerView): PageContent {
  return {
    title: 'Choose a patient',
    content: html`<p class="client"><strong>${view.clientName}</strong> will work with the patient you choose.</p>
<form method="get" action="${view.action}" role="search">
<input type="hidden" name="interaction" value="${view.interaction}">
<label for="name">Name</label>
<input id="name" name="name" type="search" autocomplete="off" value="${view.name}">
<label for="birthdate">Birth date</label>
<input id="birthdate" name="birthdate" type="date" value="${view.birthdate}">
<button type="submit">Search patients</button>
</form>
${pickerResults(view)}`,
  };
}
