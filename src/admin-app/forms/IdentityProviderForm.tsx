/**
 * IdentityProvider: an external OpenID Connect provider users may sign in with. The client secret is
 * write-only (encrypted at rest): the field sets a new one and is empty otherwise.
 */
import { PasswordInput, Select, SimpleGrid, Stack, Switch, TagsInput, TextInput } from '@mantine/core';
import type { Resource } from '../fhir';
import { errorAt, type FormProps, withField } from './form-utils';

export function IdentityProviderForm({ value, onChange, errors, creating }: FormProps) {
  const set = (key: string, v: unknown) => onChange(withField(value, key, v));
  const text = (key: string, label: string, extra: { required?: boolean; placeholder?: string; description?: string } = {}) => (
    <TextInput label={label} {...extra} value={String(value[key] ?? '')} onChange={(e) => set(key, e.currentTarget.value)} error={errorAt(errors, key)} />
  );
  const defaults = (value.defaultMembership as { role?: string; accessPolicy?: { reference?: string } } | undefined) ?? {};
  const button = (value.button as { label?: string } | undefined) ?? {};
  return (
    <Stack gap="sm">
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        {text('name', 'Provider name', { required: true })}
        <Select label="Provider status" required data={['active', 'off']} value={(value.status as string | undefined) ?? null} onChange={(v) => set('status', v ?? undefined)} error={errorAt(errors, 'status')} allowDeselect={false} />
        {text('issuer', 'Issuer', { required: true, placeholder: 'https://login.example.org', description: 'discovery: {issuer}/.well-known/openid-configuration' })}
        {text('clientId', 'Client id at the provider', { required: true })}
        <PasswordInput
          label={creating ? 'Client secret at the provider' : 'Set a new client secret'}
          description={creating ? undefined : 'write-only: leave empty to keep the stored one'}
          value={String(value.clientSecret ?? '')}
          onChange={(e) => set('clientSecret', e.currentTarget.value)}
          error={errorAt(errors, 'clientSecret')}
          autoComplete="off"
        />
        <Select
          label="Provider token endpoint authentication"
          data={['client_secret_basic', 'client_secret_post', 'private_key_jwt']}
          value={(value.tokenEndpointAuthMethod as string | undefined) ?? null}
          onChange={(v) => set('tokenEndpointAuthMethod', v ?? undefined)}
          clearable
        />
        {text('scope', 'Scopes requested', { placeholder: 'openid email profile' })}
        <Select label="Match users by" data={['email', 'sub']} value={(value.userMatching as string | undefined) ?? null} onChange={(v) => set('userMatching', v ?? undefined)} clearable />
      </SimpleGrid>
      <TagsInput label="Email domains" value={(value.emailDomains as string[] | undefined) ?? []} onChange={(v) => set('emailDomains', v)} error={errorAt(errors, 'emailDomains')} />
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Switch label="PKCE" checked={value.pkce !== false} onChange={(e) => set('pkce', e.currentTarget.checked)} />
        <Switch label="Required for its email domains" checked={value.requiredForEmailDomains === true} onChange={(e) => set('requiredForEmailDomains', e.currentTarget.checked)} />
        <Switch label="Create users on first sign-in" checked={value.autoProvision === true} onChange={(e) => set('autoProvision', e.currentTarget.checked)} />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <TextInput
          label="Access policy of provisioned users"
          placeholder="AccessPolicy/…"
          value={defaults.accessPolicy?.reference ?? ''}
          onChange={(e) => set('defaultMembership', e.currentTarget.value ? { ...defaults, accessPolicy: { reference: e.currentTarget.value } } : defaults.role ? { role: defaults.role } : undefined)}
          error={errorAt(errors, 'defaultMembership')}
        />
        <TextInput label="Sign-in button label" value={button.label ?? ''} onChange={(e) => set('button', e.currentTarget.value ? { ...button, label: e.currentTarget.value } : undefined)} />
      </SimpleGrid>
    </Stack>
  );
}

export const NEW_PROVIDER: Resource = { resourceType: 'IdentityProvider', name: '', status: 'active', issuer: '', clientId: '' };
