/**
 * ClientApplication: grant types, authentication method, redirect URIs, scopes (picked from the SMART scope
 * grammar), JWKS or jwksUri, consent and PKCE switches. The generated secret is shown once by the edit page.
 */
import { Checkbox, Select, SimpleGrid, Stack, Switch, TagsInput, Textarea, TextInput } from '@mantine/core';
import { useMemo } from 'react';
import type { Resource } from '../fhir';
import { errorAt, type FormProps, withField } from './form-utils';

export const GRANT_TYPES = ['authorization_code', 'client_credentials', 'refresh_token'];
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
const USER_SCOPES = ['openid', 'fhirUser', 'profile', 'email', 'offline_access', 'online_access', 'launch', 'launch/patient', 'launch/encounter'];
const PERMISSIONS = ['cruds', 'rs', 'c', 'r', 'u', 'd', 's', 'read', 'write', '*'];

/**
 * Scope suggestions from the SMART grammar: `{patient|user|system}/{type|*}.{permissions}` and the user scopes.
 * @param types - the resource types
 * @returns the scopes
 */
export function scopeSuggestions(types: string[]): string[] {
  const out = [...USER_SCOPES];
  for (const context of ['system', 'user', 'patient']) for (const type of ['*', ...types]) for (const p of PERMISSIONS) out.push(`${context}/${type}.${p}`);
  return out;
}

export function ClientApplicationForm({ value, onChange, errors, types = [] }: FormProps & { types?: string[] }) {
  const set = (key: string, v: unknown) => onChange(withField(value, key, v));
  const grants = (value.grantType as string[] | undefined) ?? [];
  const scopes = String(value.scope ?? '').split(/\s+/).filter(Boolean);
  const suggestions = useMemo(() => scopeSuggestions(types), [types]);
  return (
    <Stack gap="sm">
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <TextInput label="Name" required value={String(value.name ?? '')} onChange={(e) => set('name', e.currentTarget.value)} error={errorAt(errors, 'name')} />
        <Select
          label="Status"
          data={['active', 'inactive']}
          value={(value.status as string | undefined) ?? null}
          onChange={(v) => set('status', v ?? undefined)}
          error={errorAt(errors, 'status')}
          clearable
        />
      </SimpleGrid>
      <Textarea label="Description" value={String(value.description ?? '')} onChange={(e) => set('description', e.currentTarget.value)} autosize minRows={1} error={errorAt(errors, 'description')} />
      <Checkbox.Group label="Grant types" withAsterisk value={grants} onChange={(v) => set('grantType', v)} error={errorAt(errors, 'grantType')}>
        <SimpleGrid cols={{ base: 1, sm: 3 }} mt={4}>
          {GRANT_TYPES.map((g) => (
            <Checkbox key={g} value={g} label={g} />
          ))}
        </SimpleGrid>
      </Checkbox.Group>
      <Select
        label="Token endpoint authentication"
        description="none = public client (browser or native app, PKCE); a confidential client without a secret gets one generated"
        data={AUTH_METHODS}
        value={(value.tokenEndpointAuthMethod as string | undefined) ?? null}
        onChange={(v) => set('tokenEndpointAuthMethod', v ?? undefined)}
        error={errorAt(errors, 'tokenEndpointAuthMethod')}
        clearable
      />
      <Textarea
        label="Redirect URIs (one per line, matched exactly)"
        value={((value.redirectUri as string[] | undefined) ?? []).join('\n')}
        onChange={(e) => set('redirectUri', e.currentTarget.value.split('\n').map((l) => l.trim()).filter(Boolean))}
        autosize
        minRows={2}
        error={errorAt(errors, 'redirectUri')}
      />
      <TagsInput
        label="Scopes"
        description="SMART scopes: context/type.permissions (system/*.rs, user/Patient.cruds, patient/Observation.read) and openid, fhirUser, offline_access…"
        data={suggestions}
        limit={30}
        value={scopes}
        onChange={(v) => set('scope', v.join(' '))}
        error={errorAt(errors, 'scope')}
        splitChars={[' ', ',']}
        clearable
      />
      <TextInput label="JWKS URI" placeholder="https://app.example.com/.well-known/jwks.json" value={String(value.jwksUri ?? '')} onChange={(e) => set('jwksUri', e.currentTarget.value)} error={errorAt(errors, 'jwksUri')} />
      <Textarea label="JWKS (JSON)" value={String(value.jwks ?? '')} onChange={(e) => set('jwks', e.currentTarget.value)} autosize minRows={2} maxRows={10} error={errorAt(errors, 'jwks')} styles={{ input: { fontFamily: 'monospace' } }} />
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <Switch label="Require consent" checked={value.consentRequired !== false} onChange={(e) => set('consentRequired', e.currentTarget.checked)} />
        <Switch label="Require PKCE" checked={value.requirePkce !== false} onChange={(e) => set('requirePkce', e.currentTarget.checked)} />
        <TextInput
          label="Access token lifetime (seconds)"
          type="number"
          value={value.accessTokenLifetime === undefined ? '' : String(value.accessTokenLifetime)}
          onChange={(e) => set('accessTokenLifetime', e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value))}
          error={errorAt(errors, 'accessTokenLifetime')}
        />
        <TextInput
          label="Refresh token lifetime (seconds)"
          type="number"
          value={value.refreshTokenLifetime === undefined ? '' : String(value.refreshTokenLifetime)}
          onChange={(e) => set('refreshTokenLifetime', e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value))}
          error={errorAt(errors, 'refreshTokenLifetime')}
        />
      </SimpleGrid>
    </Stack>
  );
}

/** A new ClientApplication. */
export const NEW_CLIENT: Resource = { resourceType: 'ClientApplication', name: '', status: 'active', grantType: ['client_credentials'], tokenEndpointAuthMethod: 'client_secret_basic' };
