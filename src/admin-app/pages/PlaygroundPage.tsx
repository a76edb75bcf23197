/**
 * Policy playground: pick a principal (Membership or ClientApplication) and a request (method, URL, optional
 * body), run `$evaluate-policy`, and read the decision with its trace as a tree: which policy and rule permitted
 * or denied, which condition was false, which expression failed.
 */
import { Alert, Badge, Button, Group, Select, SimpleGrid, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { ErrorAlert } from '../components/common';
import { ReferencePicker } from '../components/ReferencePicker';
import { useApp } from '../context';
import { describe } from '../display';
import type { FhirClient, Resource } from '../fhir';
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

/** The `$evaluate-policy` input of a principal's request. */
function evaluateInput(principal: string, method: string, url: string, scope: string, appClient?: string): Record<string, unknown> {
  const parameter: Array<Record<string, unknown>> = [
    { name: 'principal', valueReference: { reference: principal } },
    { name: 'method', valueCode: method },
    { name: 'url', valueString: url },
  ];
  if (scope.trim()) parameter.push({ name: 'scope', valueString: scope.trim() });
  if (appClient) parameter.push({ name: 'client', valueReference: { reference: appClient } });
  return { resourceType: 'Parameters', parameter };
}

/**
 * "What can this principal see": a search run with the signed-in administrator's authority, each result judged
 * for the principal by `$evaluate-policy` (a read of that resource). Nothing runs as the principal.
 */
function Visibility({ client, principal, scope, appClient }: { client: FhirClient; principal?: string; scope: string; appClient?: string }) {
  const { capability } = useApp();
  const types = (capability.rest?.[0]?.resource ?? []).map((r) => r.type).sort();
  const [type, setType] = useState<string | null>('Patient');
  const [query, setQuery] = useState('');
  const [rows, setRows] = useState<Array<{ resource: Resource; decision: string }>>();
  const [error, setError] = useState<unknown>();
  const [running, setRunning] = useState(false);
  const run = async () => {
    if (!principal || !type) return;
    setError(undefined);
    setRows(undefined);
    setRunning(true);
    try {
      const bundle = await client.search(type, `${query.replace(/^\?/, '')}${query ? '&' : ''}_count=20`);
      const resources = (bundle.entry ?? []).flatMap((e) => (e.resource && e.search?.mode !== 'include' ? [e.resource] : []));
      const judged = await Promise.all(
        resources.map(async (resource) => {
          const answer = await client.request<{ parameter?: [] }>('POST', '$evaluate-policy', evaluateInput(principal, 'GET', `${type}/${resource.id}`, scope, appClient));
          return { resource, decision: readEvaluation(answer).decision ?? '?' };
        }),
      );
      setRows(judged);
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
    }
  };
  return (
    <Stack gap="xs">
      <Title order={3} size="h4">
        What can this principal see?
      </Title>
      <Text size="sm" c="dimmed">
        Searches with your authority (first 20 results), then asks $evaluate-policy whether the principal may read each one.
      </Text>
      <Group align="flex-end">
        <Select label="Resource type to check" data={types} value={type} onChange={setType} searchable w={220} />
        <TextInput label="Search query (optional)" placeholder="family=Curie" value={query} onChange={(e) => setQuery(e.currentTarget.value)} style={{ flex: 1 }} />
        <Button variant="light" onClick={() => void run()} loading={running} disabled={!principal || !type}>
          Check visibility
        </Button>
      </Group>
      <ErrorAlert error={error} />
      {rows ? (
        <Table aria-label="Visibility" data-testid="visibility">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>resource</Table.Th>
              <Table.Th>summary</Table.Th>
              <Table.Th>read</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map(({ resource, decision }) => (
              <Table.Tr key={resource.id}>
                <Table.Td>
                  {resource.resourceType}/{resource.id}
                </Table.Td>
                <Table.Td>{describe(resource)}</Table.Td>
                <Table.Td>
                  <Badge color={COLORS[decision] ?? 'blue'} variant="light">
                    {decision}
                  </Badge>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : null}
    </Stack>
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
    const input = evaluateInput(principal ?? '', method, url, scope, appClient);
    const parameter = input.parameter as Array<Record<string, unknown>>;
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
      const answer = await client.request<{ parameter?: [] }>('POST', '$evaluate-policy', input);
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
      <Visibility client={client} principal={principal} scope={scope} appClient={appClient} />
    </Stack>
  );
}
