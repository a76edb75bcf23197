/**
 * The app: reads /admin/config.json, signs in (or finishes signing in at /admin/callback), loads the
 * CapabilityStatement and renders the shell with the page of the current path.
 */
import { Alert, AppShell, Burger, Button, Center, Group, Loader, NavLink, ScrollArea, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { type AppConfig, completeSignIn, fhirBase, forProject, oauthBase, refresh, type Session, signOut, startSignIn } from './auth';
import { ProjectSwitcher } from './components/ProjectSwitcher';
import { AppContext, type AppContextValue } from './context';
import { FhirClient } from './fhir';
import { AuditPage } from './pages/AuditPage';
import { HomePage } from './pages/HomePage';
import { PlaygroundPage } from './pages/PlaygroundPage';
import { ResourcePage } from './pages/ResourcePage';
import { SearchPage } from './pages/SearchPage';
import { EditPage } from './pages/EditPage';
import { appPath, matchRoute, navigate, projectOf, replace, useLocation, setProjectPrefix } from './router';
import { Link } from './components/common';

type Phase = { kind: 'loading'; message: string } | { kind: 'error'; message: string } | { kind: 'ready' };

const NAV: Array<{ label: string; to: string }> = [
  { label: 'Resources', to: '' },
  { label: 'Client applications', to: 'r/ClientApplication' },
  { label: 'Users', to: 'r/User' },
  { label: 'Memberships', to: 'r/Membership' },
  { label: 'Access policies', to: 'r/AccessPolicy' },
  { label: 'Identity providers', to: 'r/IdentityProvider' },
  { label: 'Policy playground', to: 'playground' },
  { label: 'Audit', to: 'audit' },
];

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading', message: 'Loading…' });
  const [config, setConfig] = useState<AppConfig>();
  const [session, setSession] = useState<Session>();
  const [capability, setCapability] = useState<AppContextValue['capability']>();
  const sessionRef = useRef<Session | undefined>(undefined);
  sessionRef.current = session;
  const location = useLocation();
  const [opened, { toggle, close }] = useDisclosure();

  // Start: configuration, then the callback or a sign-in.
  useEffect(() => {
    let cancelled = false;
    (async () => {
      const res = await fetch('/admin/config.json');
      if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
      const defaults = (await res.json()) as AppConfig;
      if (cancelled) return;
      if (matchRoute(window.location.pathname).page === 'callback') {
        setPhase({ kind: 'loading', message: 'Signing in…' });
        const { session: s, returnTo, config: cfg } = await completeSignIn(defaults, window.location.search);
        if (cancelled) return;
        const project = projectOf(returnTo);
        setProjectPrefix(project);
        setConfig(cfg);
        replace(returnTo);
        setSession(s);
        const metadata = await fetch(`${fhirBase(cfg)}/metadata`, { headers: { Accept: 'application/fhir+json' } });
        setCapability((await metadata.json()) as AppContextValue['capability']);
        setPhase({ kind: 'ready' });
      } else {
        const cfg = forProject(defaults, projectOf(window.location.pathname));
        setConfig(cfg);
        setPhase({ kind: 'loading', message: 'Redirecting to sign-in…' });
        await startSignIn(cfg, window.location.pathname + window.location.search);
      }
    })().catch((err: unknown) => {
      if (!cancelled) setPhase({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
    });
    return () => {
      cancelled = true;
    };
  }, []);

  // One refresh at a time: a refresh token is single-use, and presenting it twice would revoke the grant.
  const renewing = useRef<Promise<boolean> | undefined>(undefined);
  const renew = useCallback((): Promise<boolean> => {
    const current = sessionRef.current;
    if (!config || !current?.refreshToken) return Promise.resolve(false);
    renewing.current ??= refresh(config, current)
      .then((next) => {
        sessionRef.current = next;
        setSession(next);
        return true;
      })
      .catch(() => false)
      .finally(() => {
        renewing.current = undefined;
      });
    return renewing.current;
  }, [config]);

  // Silent refresh a minute before expiry (or halfway through a short lifetime).
  useEffect(() => {
    if (!session?.refreshToken) return undefined;
    const left = session.expiresAt - Date.now();
    const timer = setTimeout(() => void renew(), Math.max(5_000, Math.min(left - 60_000, left / 2)));
    return () => clearTimeout(timer);
  }, [session, renew]);

  const client = useMemo(
    () => (config ? new FhirClient(fhirBase(config), { token: () => sessionRef.current?.accessToken, renew }) : undefined),
    [config, renew],
  );

  // The signed-in user's email, for the header (the id token names the User by reference).
  const sub = String(session?.idClaims.sub ?? '');
  const [userEmail, setUserEmail] = useState<string>();
  useEffect(() => {
    const id = /^User\/(.+)$/.exec(sub)?.[1];
    if (!client || !id) return;
    client.read('User', id).then(
      (user) => setUserEmail(typeof user.email === 'string' ? user.email : undefined),
      () => undefined,
    );
  }, [client, sub]);

  const onSignOut = async () => {
    if (!config || !session) return;
    await signOut(config, session);
    setSession(undefined);
    sessionRef.current = undefined;
    window.location.assign(`${oauthBase(config)}/logout`);
  };

  if (phase.kind === 'error') {
    return (
      <Center mih="100vh" p="md">
        <Alert color="red" title="Sign-in failed" maw={560}>
          <Text mb="sm">{phase.message}</Text>
          <Button onClick={() => config && void startSignIn(config, appPath(''))}>Sign in again</Button>
        </Alert>
      </Center>
    );
  }
  if (phase.kind === 'loading' || !config || !session || !client || !capability) {
    return (
      <Center mih="100vh" aria-busy="true">
        <Group>
          <Loader size="sm" />
          <Text>{phase.kind === 'loading' ? phase.message : 'Loading…'}</Text>
        </Group>
      </Center>
    );
  }

  const route = matchRoute(location.path);
  const who = userEmail ?? String(session.idClaims.sub ?? 'signed in');
  return (
    <AppContext.Provider value={{ config, client, session, capability }}>
      <AppShell header={{ height: 56 }} navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
        <AppShell.Header>
          <Group h="100%" px="md" justify="space-between" wrap="nowrap">
            <Group wrap="nowrap">
              <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
              <Title order={1} size="h4">
                FHIR admin
              </Title>
              <ProjectSwitcher current={config} />
            </Group>
            <Group wrap="nowrap">
              <Text size="sm" visibleFrom="sm" data-testid="signed-in-user">
                {who}
              </Text>
              <Button variant="default" size="xs" onClick={() => void onSignOut()}>
                Sign out
              </Button>
            </Group>
          </Group>
        </AppShell.Header>
        <AppShell.Navbar p="xs" aria-label="Main">
          <ScrollArea>
            {NAV.map((item) => (
              <NavLink
                key={item.to}
                component={Link}
                to={appPath(item.to)}
                label={item.label}
                onClick={close}
                active={item.to === '' ? route.page === 'home' : location.path.startsWith(appPath(item.to))}
              />
            ))}
          </ScrollArea>
        </AppShell.Navbar>
        <AppShell.Main>
          <div>
            {route.page === 'home' && <HomePage />}
            {route.page === 'search' && <SearchPage key={route.type} type={route.type} />}
            {route.page === 'new' && <EditPage key={`new-${route.type}`} type={route.type} />}
            {route.page === 'resource' && <ResourcePage key={`${route.type}/${route.id}`} type={route.type} id={route.id} tab={route.tab} />}
            {route.page === 'playground' && <PlaygroundPage />}
            {route.page === 'audit' && <AuditPage />}
            {(route.page === 'not-found' || route.page === 'callback') && (
              <Alert color="yellow" title="Not found">
                There is no page at {location.path}. <Link to="/admin/">Back to the resources</Link>
              </Alert>
            )}
          </div>
        </AppShell.Main>
      </AppShell>
    </AppContext.Provider>
  );
}

export { navigate };
