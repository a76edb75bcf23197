/** Renders a component inside the providers the app uses, with a fake FHIR client. */
import { MantineProvider } from '@mantine/core';
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { AppContext, type AppContextValue } from '../context';
import { type Bundle, FhirClient, type Resource } from '../fhir';

/** A FHIR client whose requests are answered by `answer` (method, path, body). */
export function fakeClient(answer: (method: string, path: string, body?: unknown) => Promise<unknown>): FhirClient {
  const client = new FhirClient('/w/default/default/api/v1/fhir/r4', { token: () => 'token', renew: async () => false });
  client.request = (async (method: string, path: string, body?: unknown) => answer(method, path, body)) as FhirClient['request'];
  return client;
}

export const EMPTY_BUNDLE: Bundle = { resourceType: 'Bundle', entry: [] };

export function renderInApp(ui: ReactNode, client: FhirClient, capability: Resource = { resourceType: 'CapabilityStatement', rest: [{ resource: [] }] }) {
  const value: AppContextValue = {
    config: { tenant: 'default', project: 'default', clientId: 'admin-app', redirectUri: 'http://localhost/admin/callback', fhirUrl: 'http://localhost/w/default/default/api/v1/fhir/r4' },
    client,
    session: { accessToken: 't', expiresAt: Date.now() + 60_000, scope: '', idClaims: {} },
    capability: capability as AppContextValue['capability'],
  };
  return render(
    <MantineProvider>
      <AppContext.Provider value={value}>{ui}</AppContext.Provider>
    </MantineProvider>,
  );
}
