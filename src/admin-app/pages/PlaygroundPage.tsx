/**
 * Policy playground: pick a principal (Membership or ClientApplication) and a request (method, URL, optional
 * body), run `$evaluate-policy`, and read the decision with its trace as a tree: which policy and rule permitted
 * or denied, which condition was false, which expression failed.
 */
import { Alert, Badge, Button, Group, Select, SimpleGrid, Stack, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { ErrorAlert } from '../components/common';
import { ReferencePicker } from '../components/ReferencePicker';
import { useApp } from '../context';
import { readEvaluation, type Evaluation, type TraceNode } from '../trace';

const COLORS: Record<string, string> = { permit: 'green', deny: 'red', 'not-applicable': 'gray', 'condition-false': 'orange', 'no-effect': 'gray', error: 'red' };

function TraceTree({ nodes }: { nodes: TraceNode[] }) {
  return (
    <ul className="trace-tree">
      {nodes.map((node) => (
        <li key={node.key}>
          <Group gap="xs" wrap="nowrap">
            <Text size="sm" ff="monospace">
              {node.label}
            </Text>
            {node.result ? (
              <Badge color={COLORS[node.result] ?? 'blue'} variant="light" size="sm">
                {node.result}
              </Badge>
            ) : null}
            {node.detail ? (
              <Text size="xs" c="dimmed">
                {node.detail}
              </Text>
            ) : null}
          </Group>
          {node.children.length ? <TraceTree nodes={node.children} /> : null}
        </li>
      ))}
    </ul>
  );
}

export function PlaygroundPage() {
  const { client } = useApp();
  const [principal, setPrincipal] = useState<string>();
  const [appClient, setAppClient] = useState<string>();
  const [method, setMethod] = useState('GET');
  const [url, setUrl] = useState('Patient');
  const [scope, setScope] = useState('');
  const [body, setBody] = useState('');
  const [result, setResult] = useState<Evaluation>();
  const [error, setError] = useState<unknown>();
  const [running, setRunning] = useState(false);

  const run = async () => {
    setError(undefined);
    setResult(undefined);
    const parameter: Array<Record<string, unknown>> = [
      { name: 'principal', valueReference: { reference: principal ?? '' } },
      { name: 'method', valueCode: method },
      { name: 'url', valueString: url },
    ];
    if (scope.trim()) parameter.push({ name: 'scope', valueString: scope.trim() });
    if (appClient) parameter.push({ name: 'client', valueReference: { reference: appClient } });
    if (body.trim()) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        setError(new Error('The body is not JSON'));
        return;
      }
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && 'resourceType' in parsed) parameter.push({ name: 'resource', resource: parsed });
      else parameter.push({ name: 'body', valueString: body });
    }
    setRunning(true);
    try {
      const answer = await client.request<{ parameter?: [] }>('POST', '$evaluate-policy', { resourceType: 'Parameters', parameter });
      setResult(readEvaluation(answer));
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
    }
  };

  return (
    <Stack gap="sm">
      <Title order={2}>Policy playground</Title>
      <Text size="sm" c="dimmed">
        How the access policies judge a request of a principal, without running it ($evaluate-policy).
      </Text>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
        aria-label="Request to evaluate"
      >
        <Stack gap="sm">
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <ReferencePicker label="Principal" required types={['Membership', 'ClientApplication']} value={principal} onChange={setPrincipal} />
            <ReferencePicker label="App the user uses (optional, %client)" types={['ClientApplication']} value={appClient} onChange={setAppClient} />
          </SimpleGrid>
          <Group align="flex-end" wrap="nowrap">
            <Select label="Method" data={['GET', 'POST', 'PUT', 'PATCH', 'DELETE']} value={method} onChange={(v) => setMethod(v ?? 'GET')} w={120} allowDeselect={false} />
            <TextInput label="URL (relative to the FHIR base)" value={url} onChange={(e) => setUrl(e.currentTarget.value)} style={{ flex: 1 }} required />
          </Group>
          <TextInput label="Scopes (optional, %scopes)" placeholder="user/*.rs" value={scope} onChange={(e) => setScope(e.currentTarget.value)} />
          <Textarea label="Body (optional JSON: a resource, or a JSON Patch)" value={body} onChange={(e) => setBody(e.currentTarget.value)} autosize minRows={2} maxRows={12} styles={{ input: { fontFamily: 'monospace' } }} />
          <Group>
            <Button type="submit" loading={running} disabled={!principal || !url}>
              Evaluate
            </Button>
          </Group>
        </Stack>
      </form>
      <ErrorAlert error={error} />
      {result ? (
        <Stack gap="xs" data-testid="evaluation">
          <Group>
            <Text fw={600}>Decision</Text>
            <Badge size="lg" color={COLORS[result.decision ?? ''] ?? 'blue'} data-testid="decision">
              {result.decision}
            </Badge>
            {result.interaction ? <Text size="sm">interaction: {result.interaction}</Text> : null}
          </Group>
          {result.reason ? <Text size="sm">{result.reason}</Text> : null}
          {result.search ? (
            <Alert color="blue" title={`Search: ${result.search}`}>
              {result.searchReason}
            </Alert>
          ) : null}
          <Title order={3} size="h5">
            Trace
          </Title>
          {result.policies.length ? <TraceTree nodes={result.policies} /> : <Text size="sm">No policy applies to this principal.</Text>}
        </Stack>
      ) : null}
    </Stack>
  );
}
