/**
 * The audit trail: AuditEvent search by patient, agent, date range and outcome, newest first, paged. Each row
 * names when, what (action and the interaction), who (agents), the outcome and its description.
 */
import { Badge, Button, Group, Select, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { ErrorAlert, Link, Loading, useAsync } from '../components/common';
import { useApp } from '../context';
import type { Bundle, Resource } from '../fhir';
import { pathOf } from '../router';

const OUTCOMES = [
  { value: '0', label: '0 success' },
  { value: '4', label: '4 minor failure (4xx, refusals)' },
  { value: '8', label: '8 serious failure (5xx)' },
  { value: '12', label: '12 major failure' },
];

/**
 * The AuditEvent query of the filters.
 * @param f - the filters
 * @returns the query string
 */
export function auditQuery(f: { patient: string; agent: string; from: string; to: string; outcome: string | null; count: string }): string {
  const q = new URLSearchParams({ _sort: '-date', _count: f.count });
  if (f.patient.trim()) q.set('patient', f.patient.trim().includes('/') ? f.patient.trim() : `Patient/${f.patient.trim()}`);
  if (f.agent.trim()) q.set('agent', f.agent.trim());
  if (f.from) q.append('date', `ge${f.from}`);
  if (f.to) q.append('date', `le${f.to}T23:59:59Z`);
  if (f.outcome) q.set('outcome', f.outcome);
  return q.toString();
}

interface AuditEvent extends Resource {
  recorded?: string;
  action?: string;
  outcome?: string;
  outcomeDesc?: string;
  subtype?: Array<{ code?: string; display?: string }>;
  agent?: Array<{ who?: { reference?: string; display?: string } }>;
}

export function AuditPage() {
  const { client } = useApp();
  const [filters, setFilters] = useState({ patient: '', agent: '', from: '', to: '', outcome: null as string | null, count: '20' });
  const [query, setQuery] = useState(() => auditQuery(filters));
  const [page, setPage] = useState<string>();
  const result = useAsync<Bundle>(() => (page ? client.request<Bundle>('GET', page) : client.search('AuditEvent', query)), [query, page]);
  const next = result.data?.link?.find((l) => l.relation === 'next')?.url;
  const events = (result.data?.entry ?? []).map((e) => e.resource as AuditEvent).filter(Boolean);
  return (
    <Stack gap="sm">
      <Title order={2}>Audit</Title>
      <form
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(undefined);
          setQuery(auditQuery(filters));
        }}
      >
        <SimpleGrid cols={{ base: 1, sm: 3, lg: 6 }}>
          <TextInput label="Patient" placeholder="Patient/pat-1" value={filters.patient} onChange={(e) => setFilters({ ...filters, patient: e.currentTarget.value })} />
          <TextInput label="Agent" placeholder="User/ada or ClientApplication/app" value={filters.agent} onChange={(e) => setFilters({ ...filters, agent: e.currentTarget.value })} />
          <TextInput label="From" type="date" value={filters.from} onChange={(e) => setFilters({ ...filters, from: e.currentTarget.value })} />
          <TextInput label="To" type="date" value={filters.to} onChange={(e) => setFilters({ ...filters, to: e.currentTarget.value })} />
          <Select label="Outcome" data={OUTCOMES} value={filters.outcome} onChange={(v) => setFilters({ ...filters, outcome: v })} clearable />
          <Group align="flex-end">
            <Button type="submit">Search audit</Button>
          </Group>
        </SimpleGrid>
      </form>
      {result.loading ? <Loading label="Searching…" /> : null}
      <ErrorAlert error={result.error} />
      {result.data ? (
        <>
          <Text size="sm" c="dimmed">
            {events.length} on this page
          </Text>
          <div className="table-scroll">
            <Table striped aria-label="Audit events">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>recorded</Table.Th>
                  <Table.Th>action</Table.Th>
                  <Table.Th>who</Table.Th>
                  <Table.Th>outcome</Table.Th>
                  <Table.Th>description</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {events.map((e) => (
                  <Table.Tr key={e.id}>
                    <Table.Td>
                      <Link to={pathOf('AuditEvent', e.id)}>{e.recorded}</Link>
                    </Table.Td>
                    <Table.Td>
                      {e.action} {e.subtype?.map((s) => s.display ?? s.code).join(', ')}
                    </Table.Td>
                    <Table.Td>{e.agent?.map((a) => a.who?.reference ?? a.who?.display).filter(Boolean).join(', ')}</Table.Td>
                    <Table.Td>
                      <Badge color={e.outcome === '0' ? 'green' : 'red'} variant="light">
                        {e.outcome}
                      </Badge>
                    </Table.Td>
                    <Table.Td>{e.outcomeDesc}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </div>
          <Group>
            <Button variant="default" disabled={!page} onClick={() => setPage(undefined)}>
              First page
            </Button>
            <Button variant="default" disabled={!next} onClick={() => setPage(client.relative(next ?? ''))}>
              Next page
            </Button>
          </Group>
        </>
      ) : null}
    </Stack>
  );
}
