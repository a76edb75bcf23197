/** The auth resource forms and the edit page: fields, server issues under their field, the secret shown once. */
import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import { FhirError, type Resource } from '../fhir';
import { AccessPolicyForm } from '../forms/AccessPolicyForm';
import { ClientApplicationForm, scopeSuggestions } from '../forms/ClientApplicationForm';
import { type FieldErrors, fieldErrors } from '../forms/form-utils';
import { UserForm } from '../forms/UserForm';
import { EditPage } from '../pages/EditPage';
import { EMPTY_BUNDLE, fakeClient, renderInApp } from './render';

/** A form holding its own state, reporting every change. */
function Harness({ Form, initial, errors = {}, creating = true, onChange }: { Form: typeof UserForm; initial: Resource; errors?: FieldErrors; creating?: boolean; onChange?: (r: Resource) => void }) {
  const [value, setValue] = useState(initial);
  return (
    <Form
      value={value}
      errors={errors}
      creating={creating}
      onChange={(next) => {
        setValue(next);
        onChange?.(next);
      }}
    />
  );
}

const noServer = fakeClient(async () => EMPTY_BUNDLE);

describe('ClientApplicationForm', () => {
  it('edits grant types, method, redirect URIs and scopes, every input labelled', async () => {
    const changes = vi.fn();
    renderInApp(<Harness Form={ClientApplicationForm} initial={{ resourceType: 'ClientApplication', name: 'x', grantType: ['client_credentials'] }} onChange={changes} />, noServer);
    await userEvent.click(screen.getByLabelText('authorization_code'));
    expect(changes).toHaveBeenLastCalledWith(expect.objectContaining({ grantType: ['client_credentials', 'authorization_code'] }));
    fireEvent.change(screen.getByLabelText('Redirect URIs (one per line, matched exactly)'), { target: { value: 'https://a.example/cb\n\nhttps://b.example/cb ' } });
    expect(changes).toHaveBeenLastCalledWith(expect.objectContaining({ redirectUri: ['https://a.example/cb', 'https://b.example/cb'] }));
    await userEvent.type(screen.getByRole('textbox', { name: 'Scopes' }), 'user/Patient.rs{enter}');
    expect(changes).toHaveBeenLastCalledWith(expect.objectContaining({ scope: 'user/Patient.rs' }));
    for (const input of document.querySelectorAll('input:not([type=hidden]), textarea')) {
      const id = input.getAttribute('id');
      const labelled = Boolean(input.getAttribute('aria-label') || input.getAttribute('aria-labelledby') || (id && document.querySelector(`label[for="${id}"]`)));
      expect({ input: input.outerHTML.slice(0, 80), labelled }).toEqual({ input: input.outerHTML.slice(0, 80), labelled: true });
    }
  });

  it('shows server issues under the field their expression names', () => {
    const errors = fieldErrors([
      { severity: 'error', code: 'invalid', diagnostics: 'redirect URI must be absolute', expression: ['ClientApplication.redirectUri[1]'] },
      { severity: 'error', code: 'required', diagnostics: 'name is required', expression: ['ClientApplication.name'] },
    ]);
    renderInApp(<Harness Form={ClientApplicationForm} initial={{ resourceType: 'ClientApplication' }} errors={errors} />, noServer);
    expect(screen.getByText('redirect URI must be absolute')).toBeTruthy();
    expect(screen.getByRole('textbox', { name: 'Name' }).getAttribute('aria-invalid')).toBe('true');
  });

  it('suggests scopes from the SMART grammar', () => {
    const scopes = scopeSuggestions(['Patient']);
    expect(scopes).toEqual(expect.arrayContaining(['openid', 'offline_access', 'system/*.rs', 'user/Patient.cruds', 'patient/Patient.read']));
  });
});

describe('UserForm', () => {
  it('asks for a password on create and offers to set a new one on edit', () => {
    const { unmount } = renderInApp(<Harness Form={UserForm} initial={{ resourceType: 'User', email: 'a@b.c', role: 'member' }} />, noServer);
    expect(screen.getByLabelText('Password')).toBeTruthy();
    unmount();
    renderInApp(<Harness Form={UserForm} creating={false} initial={{ resourceType: 'User', email: 'a@b.c', role: 'member' }} />, noServer);
    expect(screen.getByLabelText('Set a new password')).toBeTruthy();
  });

  it('switches the status', async () => {
    const changes = vi.fn();
    renderInApp(<Harness Form={UserForm} initial={{ resourceType: 'User', email: 'a@b.c', role: 'member', active: true }} onChange={changes} />, noServer);
    await userEvent.click(screen.getByLabelText('Active (may sign in)'));
    expect(changes).toHaveBeenLastCalledWith(expect.objectContaining({ active: false }));
  });
});

describe('AccessPolicyForm', () => {
  it('shows a compile error under the nested rule expression it names', () => {
    const policy: Resource = {
      resourceType: 'AccessPolicy',
      name: 'p',
      engine: 'rule-engine',
      rule: [{ name: 'outer', rule: [{ name: 'inner', condition: { expression: "status = 'final'" } }, { name: 'second', condition: { expression: '(' } }] }],
    };
    const errors = fieldErrors([
      { severity: 'error', code: 'invalid', diagnostics: "FHIRPath syntax error: missing ')'", expression: ['AccessPolicy.rule[0].rule[1].condition.expression'] },
    ]);
    renderInApp(<Harness Form={AccessPolicyForm} initial={policy} errors={errors} />, noServer);
    const section = screen.getByRole('region', { name: 'Rule 1 › rule 2' });
    expect(section.textContent).toContain("FHIRPath syntax error: missing ')'");
    expect(screen.getByRole('region', { name: 'Rule 1 › rule 1' }).textContent).not.toContain('syntax error');
    expect(screen.getByRole('textbox', { name: 'Rule 1 › rule 1 condition (when it yields its effect)' }).textContent).toBe("status = 'final'");
  });

  it('adds and removes rules', async () => {
    const changes = vi.fn();
    renderInApp(<Harness Form={AccessPolicyForm} initial={{ resourceType: 'AccessPolicy', name: 'p', engine: 'rule-engine' }} onChange={changes} />, noServer);
    await userEvent.click(screen.getByRole('button', { name: 'Add rule' }));
    await userEvent.click(screen.getByRole('button', { name: 'Add nested rule to Rule 1' }));
    expect(changes).toHaveBeenLastCalledWith(expect.objectContaining({ rule: [{ rule: [{}] }] }));
    await userEvent.click(screen.getByRole('button', { name: 'Remove Rule 1' }));
    expect(changes).toHaveBeenLastCalledWith(expect.not.objectContaining({ rule: expect.anything() }));
  });
});

describe('EditPage', () => {
  it('shows a generated client secret once, with a copy button', async () => {
    const client = fakeClient(async (method, _path, body) => {
      if (method === 'POST') return { ...(body as Resource), id: 'new-client', meta: { versionId: '1' }, secret: 'the-generated-secret-value' };
      return EMPTY_BUNDLE;
    });
    renderInApp(<EditPage type="ClientApplication" />, client);
    await userEvent.type(screen.getByRole('textbox', { name: 'Name' }), 'Lab');
    await userEvent.click(screen.getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(screen.getByText('the-generated-secret-value')).toBeTruthy());
    expect(screen.getByRole('button', { name: 'Copy secret' })).toBeTruthy();
    // The form keeps the stored resource, without the secret.
    await userEvent.click(screen.getByRole('tab', { name: 'JSON' }));
    expect(screen.getByTestId('json-editor').textContent).not.toContain('the-generated-secret-value');
  });

  it('puts the issues of a refused write under their fields and lists them', async () => {
    const client = fakeClient(async (method) => {
      if (method === 'POST') throw new FhirError(400, [{ severity: 'error', code: 'invalid', diagnostics: 'email is not an email address', expression: ['User.email'] }]);
      return EMPTY_BUNDLE;
    });
    renderInApp(<EditPage type="User" />, client);
    await userEvent.type(screen.getByRole('textbox', { name: 'Email' }), 'not-an-email');
    await userEvent.click(screen.getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(screen.getByText('The server refused the change')).toBeTruthy());
    expect(screen.getByRole('textbox', { name: 'Email' }).getAttribute('aria-invalid')).toBe('true');
    expect(screen.getAllByText(/email is not an email address/).length).toBe(2);
  });

  it('says so when the write is forbidden', async () => {
    const client = fakeClient(async (method) => {
      if (method === 'POST') throw new FhirError(403, [{ severity: 'error', code: 'forbidden', diagnostics: 'not allowed' }]);
      return EMPTY_BUNDLE;
    });
    renderInApp(<EditPage type="Patient" />, client);
    await userEvent.click(screen.getByRole('button', { name: 'Create' }));
    await waitFor(() => expect(screen.getByText(/Forbidden \(403\)/)).toBeTruthy());
  });
});
