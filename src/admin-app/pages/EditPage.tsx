/**
 * Create or edit a resource: the type's form (ClientApplication, User, Membership, AccessPolicy,
 * IdentityProvider) and/or the JSON
 * editor. A refused write shows the server's OperationOutcome: each issue under the form field or at the JSON
 * element its `expression` names, and all of them in an alert. A ClientApplication created with a generated
 * secret shows it once, with a copy button.
 */
import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Tabs, Text, TextInput, Title } from '@mantine/core';
import { type ComponentType, useState } from 'react';
import { ErrorAlert } from '../components/common';
import { JsonEditor } from '../components/editors';
import { useApp } from '../context';
import { FhirError, type Issue, type Resource } from '../fhir';
import { AccessPolicyForm, NEW_POLICY } from '../forms/AccessPolicyForm';
import { ClientApplicationForm, NEW_CLIENT } from '../forms/ClientApplicationForm';
import { type FormProps, fieldErrors } from '../forms/form-utils';
import { IdentityProviderForm, NEW_PROVIDER } from '../forms/IdentityProviderForm';
import { MembershipForm, NEW_MEMBERSHIP } from '../forms/MembershipForm';
import { NEW_USER, UserForm } from '../forms/UserForm';
import { navigate, pathOf } from '../router';

const FORMS: Record<string, { form: ComponentType<FormProps & { types?: string[] }>; blank: Resource }> = {
  ClientApplication: { form: ClientApplicationForm, blank: NEW_CLIENT },
  User: { form: UserForm, blank: NEW_USER },
  Membership: { form: MembershipForm, blank: NEW_MEMBERSHIP },
  AccessPolicy: { form: AccessPolicyForm, blank: NEW_POLICY },
  IdentityProvider: { form: IdentityProviderForm, blank: NEW_PROVIDER },
};

/**
 * Drops empty strings, arrays and objects (FHIR JSON allows none of them), recursively.
 * @param value - a resource or element
 * @returns the cleaned copy
 */
export function clean(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(clean).filter((v) => v !== undefined);
    return items.length ? items : undefined;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, clean(v)] as const).filter(([, v]) => v !== undefined);
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  return value === '' ? undefined : value;
}

export function EditPage({ type, existing, onSaved }: { type: string; existing?: Resource; onSaved?: () => void }) {
  const { client, capability } = useApp();
  const dedicated = FORMS[type];
  const [resource, setResource] = useState<Resource>(existing ?? dedicated?.blank ?? { resourceType: type });
  const [mode, setMode] = useState<string>(dedicated ? 'form' : 'json');
  const [text, setText] = useState(() => JSON.stringify(existing ?? dedicated?.blank ?? { resourceType: type }, null, 2));
  const [issues, setIssues] = useState<Issue[]>([]);
  const [error, setError] = useState<unknown>();
  const [saving, setSaving] = useState(false);
  const [secret, setSecret] = useState<{ id: string; secret: string }>();
  const [saved, setSaved] = useState(false);
  const types = (capability.rest?.[0]?.resource ?? []).map((r) => r.type);

  const switchMode = (next: string | null) => {
    if (!next || next === mode) return;
    if (next === 'json') setText(JSON.stringify(resource, null, 2));
    else {
      try {
        setResource(JSON.parse(text) as Resource);
      } catch (err) {
        setError(new Error(`The JSON does not parse, fix it first: ${(err as Error).message}`));
        return;
      }
    }
    setError(undefined);
    setMode(next);
  };

  const save = async () => {
    setError(undefined);
    setIssues([]);
    setSaved(false);
    let body: Resource;
    try {
      body = (mode === 'json' ? JSON.parse(text) : clean(resource)) as Resource;
    } catch (err) {
      setError(new Error(`The JSON does not parse: ${(err as Error).message}`));
      return;
    }
    if (mode === 'json') setResource(body);
    setSaving(true);
    try {
      const result = existing || body.id ? await client.update({ ...body, resourceType: type, id: existing?.id ?? body.id }) : await client.create({ ...body, resourceType: type });
      const { secret: generated, ...stored } = result as Resource & { secret?: string };
      setResource(stored as Resource);
      setText(JSON.stringify(stored, null, 2));
      setSaved(true);
      onSaved?.();
      if (typeof generated === 'string' && result.id) setSecret({ id: result.id, secret: generated });
      else if (!existing && result.id) navigate(pathOf(type, result.id));
    } catch (err) {
      setError(err);
      if (err instanceof FhirError) setIssues(err.issues);
    } finally {
      setSaving(false);
    }
  };

  const Form = dedicated?.form;
  return (
    <Stack gap="sm">
      {!existing ? <Title order={2}>New {type}</Title> : null}
      {error ? <ErrorAlert error={error} title={error instanceof FhirError && error.status < 500 && error.status !== 403 && error.status !== 404 ? 'The server refused the change' : undefined} /> : null}
      {saved ? (
        <Alert color="green" role="status">
          Saved: version {resource.meta?.versionId}
        </Alert>
      ) : null}
      {!existing && mode === 'form' ? (
        <TextInput
          label="id (optional; the server assigns one when empty)"
          value={resource.id ?? ''}
          onChange={(e) => setResource({ ...resource, id: e.currentTarget.value || undefined })}
          maw={360}
        />
      ) : null}
      <Tabs value={mode} onChange={switchMode} keepMounted={false}>
        <Tabs.List>
          {Form ? <Tabs.Tab value="form">Form</Tabs.Tab> : null}
          <Tabs.Tab value="json">JSON</Tabs.Tab>
        </Tabs.List>
        {Form ? (
          <Tabs.Panel value="form" pt="sm">
            <Form value={resource} onChange={setResource} errors={fieldErrors(issues)} creating={!existing} types={types} />
          </Tabs.Panel>
        ) : null}
        <Tabs.Panel value="json" pt="sm">
          <JsonEditor label={`${type} JSON`} value={text} onChange={setText} issues={issues} rootType={type} />
        </Tabs.Panel>
      </Tabs>
      <Group>
        <Button onClick={() => void save()} loading={saving}>
          {existing ? 'Save' : 'Create'}
        </Button>
        {!existing ? (
          <Button variant="default" onClick={() => navigate(pathOf(type))}>
            Cancel
          </Button>
        ) : null}
      </Group>
      <Modal
        opened={Boolean(secret)}
        onClose={() => {
          const id = secret?.id;
          setSecret(undefined);
          if (id) navigate(pathOf(type, id));
        }}
        title="Client secret"
        closeOnClickOutside={false}
        closeButtonProps={{ 'aria-label': 'Close' }}
      >
        <Stack>
          <Text>
            The server generated this secret for <b>{secret?.id}</b>. It is shown <b>only now</b>: copy it into the client's configuration. The
            server stores only its hash.
          </Text>
          <Code block data-testid="client-secret">
            {secret?.secret}
          </Code>
          <Group>
            <CopyButton value={secret?.secret ?? ''}>
              {({ copied, copy }) => (
                <Button color={copied ? 'teal' : 'blue'} onClick={copy}>
                  {copied ? 'Copied' : 'Copy secret'}
                </Button>
              )}
            </CopyButton>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
