/**
 * Scopes in plain language for the consent page. `describeScope` asks each describer in
 * {@link SCOPE_DESCRIBERS} in order; the first answer wins. SMART-specific scopes (launch context, patient
 * selection) are added by putting a describer in front of the list.
 */

/** Turns one scope into a sentence fragment, or declines with undefined. */
export type ScopeDescriber = (scope: string) => string | undefined;

const FIXED: Record<string, string> = {
  openid: 'Confirm your identity',
  profile: 'See your name and profile',
  email: 'See your email address',
  fhirUser: 'Know which person record (patient or practitioner) you are',
  offline_access: 'Stay signed in and keep access when you are not using the app, until you revoke it',
  online_access: 'Keep access while you are signed in',
  launch: 'Use the context of the current EHR session',
  'launch/patient': 'Know which patient is selected',
  'launch/encounter': 'Know which encounter is selected',
};

const V2_VERBS: Record<string, string> = { c: 'create', r: 'read', u: 'change', d: 'delete', s: 'search' };
const V1_VERBS: Record<string, string[]> = {
  read: ['read', 'search'],
  write: ['create', 'change', 'delete'],
  '*': ['read', 'search', 'create', 'change', 'delete'],
};

/** `patient/Observation.rs?category=laboratory`, `user/*.read`, `system/Patient.*` */
const RESOURCE_SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{0,63})\.(read|write|\*|c?r?u?d?s?)(\?.+)?$/;

function joinVerbs(verbs: string[]): string {
  const text = verbs.length > 1 ? `${verbs.slice(0, -1).join(', ')} and ${verbs[verbs.length - 1]}` : (verbs[0] ?? '');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function describeQuery(query: string): string {
  const params = new URLSearchParams(query.slice(1));
  const parts = [...params].map(([name, value]) => `${name} = ${value}`);
  return parts.length > 0 ? ` (only where ${parts.join(', ')})` : '';
}

/**
 * SMART resource scopes, v1 (`read`, `write`, `*`) and v2 (`cruds` subsets), any context.
 * @param scope - the scope
 * @returns e.g. "Read and search your Observation records"
 */
export function describeResourceScope(scope: string): string | undefined {
  const match = RESOURCE_SCOPE.exec(scope);
  if (!match) return undefined;
  const [, context, type, permission, query] = match as unknown as [string, string, string, string, string | undefined];
  const verbs = V1_VERBS[permission] ?? [...permission].map((p) => V2_VERBS[p] ?? p);
  if (verbs.length === 0) return undefined;
  const all = type === '*';
  const what =
    context === 'patient'
      ? all
        ? 'all your health records'
        : `your ${type} records`
      : context === 'user'
        ? all
          ? 'all records you have access to'
          : `${type} records you have access to`
        : all
          ? 'all records in this project'
          : `all ${type} records in this project`;
  return `${joinVerbs(verbs)} ${what}${query ? describeQuery(query) : ''}`;
}

/** The describers, most specific first. SMART adds its own at the front. */
export const SCOPE_DESCRIBERS: ScopeDescriber[] = [(scope) => FIXED[scope], describeResourceScope];

/**
 * One scope in plain language.
 * @param scope - the scope
 * @returns a sentence fragment; unknown scopes are named as they are
 */
export function describeScope(scope: string): string {
  for (const describe of SCOPE_DESCRIBERS) {
    const text = describe(scope);
    if (text !== undefined) return text;
  }
  return `Use the permission "${scope}"`;
}
