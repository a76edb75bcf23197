/** Small shared pieces: links through the router, error display, async loading. */
import { Alert, Anchor, type AnchorProps, Group, List, Loader, Text } from '@mantine/core';
import { type ReactNode, forwardRef, useCallback, useEffect, useState } from 'react';
import { FhirError } from '../fhir';
import { navigate } from '../router';

/** An anchor that navigates inside the app (a real href: middle-click and keyboard work). */
export const Link = forwardRef<HTMLAnchorElement, AnchorProps & { to: string; children?: ReactNode; onClick?: () => void; className?: string }>(
  function Link({ to, onClick, children, ...rest }, ref) {
    return (
      <Anchor
        ref={ref}
        href={to}
        onClick={(event: React.MouseEvent<HTMLAnchorElement>) => {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
          event.preventDefault();
          onClick?.();
          navigate(to);
        }}
        {...rest}
      >
        {children}
      </Anchor>
    );
  },
);

/** An error as an alert: a refusal (403/404) says so; OperationOutcome issues listed with their expression. */
export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  if (error instanceof FhirError) {
    return (
      <Alert color={error.status === 404 || error.status === 410 ? 'yellow' : 'red'} title={title ?? error.title} role="alert" data-status={error.status}>
        <List size="sm">
          {error.issues.map((issue, i) => (
            <List.Item key={i}>
              {issue.expression?.length ? <Text span fw={600}>{issue.expression.join(', ')}: </Text> : null}
              {issue.diagnostics ?? issue.details?.text ?? issue.code}
            </List.Item>
          ))}
        </List>
      </Alert>
    );
  }
  return (
    <Alert color="red" title={title ?? 'Error'} role="alert">
      {error instanceof Error ? error.message : String(error)}
    </Alert>
  );
}

/** A value loaded asynchronously, with its loading and error states and a reload. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): { data?: T; error?: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { ...state, reload: useCallback(() => setTick((t) => t + 1), []) };
}

/** A loading line. */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <Group aria-busy="true" role="status">
      <Loader size="sm" />
      <Text size="sm">{label}</Text>
    </Group>
  );
}
