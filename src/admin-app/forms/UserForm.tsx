/** User: email, name, role, status (active, password sign-in) and setting a password. */
import { PasswordInput, Select, SimpleGrid, Stack, Switch, TextInput } from '@mantine/core';
import type { Resource } from '../fhir';
import { errorAt, type FormProps, withField } from './form-utils';

export function UserForm({ value, onChange, errors, creating }: FormProps) {
  const set = (key: string, v: unknown) => onChange(withField(value, key, v));
  const name = (value.name as { text?: string } | undefined)?.text ?? '';
  return (
    <Stack gap="sm">
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <TextInput label="Email" required type="email" value={String(value.email ?? '')} onChange={(e) => set('email', e.currentTarget.value)} error={errorAt(errors, 'email')} />
        <TextInput label="Full name" value={name} onChange={(e) => set('name', e.currentTarget.value ? { text: e.currentTarget.value } : undefined)} error={errorAt(errors, 'name')} />
        <Select
          label="Role"
          required
          description="owner and admin: full access to the project; member: what its access policies allow"
          data={['member', 'admin', 'owner']}
          value={(value.role as string | undefined) ?? null}
          onChange={(v) => set('role', v ?? undefined)}
          error={errorAt(errors, 'role')}
          allowDeselect={false}
        />
        <PasswordInput
          label={creating ? 'Password' : 'Set a new password'}
          description={creating ? 'at least 8 characters' : 'leave empty to keep the current password'}
          value={String(value.password ?? '')}
          onChange={(e) => set('password', e.currentTarget.value)}
          error={errorAt(errors, 'password')}
          autoComplete="new-password"
        />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Switch label="Active (may sign in)" checked={value.active !== false} onChange={(e) => set('active', e.currentTarget.checked)} />
        <Switch label="Password sign-in allowed" checked={value.passwordLogin !== false} onChange={(e) => set('passwordLogin', e.currentTarget.checked)} />
        <Switch label="Email verified" checked={value.emailVerified === true} onChange={(e) => set('emailVerified', e.currentTarget.checked)} />
      </SimpleGrid>
    </Stack>
  );
}

export const NEW_USER: Resource = { resourceType: 'User', email: '', role: 'member', active: true };
