/** What every page reads: the project, the FHIR client, the CapabilityStatement and the signed-in user. */
import { createContext, useContext } from 'react';
import type { AppConfig, Session } from './auth';
import type { FhirClient, Resource } from './fhir';

/** A resource type's entry of the CapabilityStatement (the parts the app uses). */
export interface TypeCapability {
  type: string;
  interaction?: Array<{ code: string }>;
  searchParam?: Array<{ name: string; type: string; documentation?: string }>;
  searchInclude?: string[];
}

export interface AppContextValue {
  config: AppConfig;
  client: FhirClient;
  session: Session;
  capability: Resource & { rest?: Array<{ resource?: TypeCapability[] }> };
}

export const AppContext = createContext<AppContextValue | null>(null);

/** The app context (inside the signed-in shell). */
export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside the app');
  return value;
}

/** The capability of one type. */
export function typeCapability(capability: AppContextValue['capability'], type: string): TypeCapability | undefined {
  return capability.rest?.[0]?.resource?.find((r) => r.type === type);
}
