/** Membership: the User, the clinical identity it acts as (Membership.link, `%fhirUser`), active. */
import { Select, Stack, Switch } from '@mantine/core';
import { useState } from 'react';
import { ReferencePicker } from '../components/ReferencePicker';
import type { Resource } from '../fhir';
import { errorAt, type FormProps, withField } from './form-utils';

const LINK_TYPES = ['Patient', 'Practitioner', 'RelatedPerson', 'Person'];

export function MembershipForm({ value, onChange, errors }: FormProps) {
  const set = (key: string, v: unknown) => onChange(withField(value, key, v));
  const user = (value.user as { reference?: string } | undefined)?.reference;
  const link = (value.link as { reference?: string } | undefined)?.reference;
  const [linkType, setLinkType] = useState(link?.split('/')[0] ?? 'Patient');
  return (
    <Stack gap="sm">
      <ReferencePicker
        label="User"
        required
        types={['User']}
        value={user}
        onChange={(r) => set('user', r ? { reference: r } : undefined)}
        error={errorAt(errors, 'user')}
      />
      <Select label="Acts as (type)" data={LINK_TYPES} value={linkType} onChange={(v) => setLinkType(v ?? 'Patient')} allowDeselect={false} w={220} />
      <ReferencePicker
        label="Acts as (fhirUser)"
        description="the Patient, Practitioner… this user is; policies read it as %fhirUser"
        types={[linkType]}
        value={link}
        onChange={(r) => set('link', r ? { reference: r } : undefined)}
        error={errorAt(errors, 'link')}
      />
      <Switch label="Active" checked={value.active !== false} onChange={(e) => set('active', e.currentTarget.checked)} />
    </Stack>
  );
}

export const NEW_MEMBERSHIP: Resource = { resourceType: 'Membership', active: true };
