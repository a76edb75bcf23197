/**
 * Search one resource type: filters with typed inputs per search parameter (token: system + code; date, number,
 * quantity: prefix + value; reference: Type/id), `_include` toggles, page size, sort; a paged table with chosen
 * columns; links to each resource. The query lives in the page's URL, so a search can be bookmarked.
 */
import { ActionIcon, Button, Checkbox, Group, MultiSelect, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useMemo, useState } from 'react';
import { ErrorAlert, Link, Loading, useAsync } from '../components/common';
import { typeCapability, useApp } from '../context';
import { cell, describe } from '../display';
import type { Bundle } from '../fhir';
import { navigate, pathOf, useLocation } from '../router';
import { buildQuery, type Filter, parseQuery, PREFIXES, type SearchControls } from '../search-query';

/** The value input of one filter row, typed by the parameter's type. */
export function FilterValue({ filter, type, onChange, index }: { filter: Filter; type?: string; onChange: (f: Filter) => void; index: number }) {
  const n = index + 1;
  if (type === 'token') {
    return (
      <Group gap="xs" wrap="nowrap">
        <TextInput label={`System ${n}`} placeholder="system (optional)" value={filter.prefix} onChange={(e) => onChange({ ...filter, prefix: e.currentTarget.value })} />
        <TextInput label={`Code ${n}`} placeholder="code" value={filter.value} onChange={(e) => onChange({ ...filter, value: e.currentTarget.value })} />
      </Group>
    );
  }
  if (type === 'date' || type === 'number' || type === 'quantity') {
    return (
      <Group gap="xs" wrap="nowrap">
        <Select
          label={`Comparator ${n}`}
          data={PREFIXES}
          value={filter.prefix || 'eq'}
          onChange={(v) => onChange({ ...filter, prefix: v ?? 'eq' })}
          w={90}
          allowDeselect={false}
        />
        <TextInput
          label={`Value ${n}`}
          type={type === 'date' ? 'date' : 'text'}
          value={filter.value}
          onChange={(e) => onChange({ ...filter, value: e.currentTarget.value })}
        />
      </Group>
    );
  }
  return (
    <TextInput
      label={`Value ${n}`}
      placeholder={type === 'reference' ? 'Patient/123' : ''}
      value={filter.value}
      onChange={(e) => onChange({ ...filter, value: e.currentTarget.value })}
    />
  );
}

export function SearchPage({ type }: { type: string }) {
  const { client, capability } = useApp();
  const location = useLocation();
  const cap = typeCapability(capability, type);
  const params = cap?.searchParam ?? [];
  const typeOf = useMemo(() => {
    const map = new Map(params.map((p) => [p.name, p.type]));
    return (name: string) => map.get(name);
  }, [params]);
  const query = location.search.replace(/^\?/, '');
  const parsed = useMemo(() => parseQuery(query, typeOf), [query, typeOf]);
  const [filters, setFilters] = useState<Filter[]>(parsed.filters.length ? parsed.filters : [{ name: '', prefix: '', value: '' }]);
  const [controls, setControls] = useState<SearchControls>(parsed.controls);
  const [page, setPage] = useState<string | undefined>();
  const [columns, setColumns] = useState<string[]>([]);

  const result = useAsync<Bundle>(() => (page ? client.request<Bundle>('GET', page) : client.search(type, query || '_count=20')), [type, query, page]);

  const run = () => {
    setPage(undefined);
    const q = buildQuery(filters, controls, typeOf);
    navigate(`${pathOf(type)}${q ? `?${q}` : ''}`);
  };

  const matches = (result.data?.entry ?? []).filter((e) => e.search?.mode !== 'include' && e.resource);
  const included = (result.data?.entry ?? []).filter((e) => e.search?.mode === 'include' && e.resource);
  const elementNames = [...new Set(matches.flatMap((e) => Object.keys(e.resource ?? {})))].filter((k) => !['resourceType', 'id', 'meta', 'text'].includes(k)).sort();
  const link = (relation: string) => result.data?.link?.find((l) => l.relation === relation)?.url;

  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={2}>{type}</Title>
        <Button onClick={() => navigate(pathOf(type, '_new'))}>New {type}</Button>
      </Group>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
        aria-label={`Search ${type}`}
      >
        <Stack gap="xs">
          {filters.map((filter, i) => (
            <Group key={i} align="flex-end" gap="xs">
              <Select
                label={`Search parameter ${i + 1}`}
                searchable
                data={[
                  { value: '_id', label: '_id (token)' },
                  { value: '_lastUpdated', label: '_lastUpdated (date)' },
                  ...params.filter((p) => !p.name.startsWith('_')).map((p) => ({ value: p.name, label: `${p.name} (${p.type})` })),
                ]}
                value={filter.name || null}
                onChange={(v) => setFilters(filters.map((f, j) => (j === i ? { name: v ?? '', prefix: '', value: f.value } : f)))}
                w={240}
              />
              <FilterValue
                index={i}
                filter={filter}
                type={filter.name === '_lastUpdated' ? 'date' : filter.name === '_id' ? 'string' : typeOf(filter.name.split(':')[0] ?? '')}
                onChange={(next) => setFilters(filters.map((f, j) => (j === i ? next : f)))}
              />
              <ActionIcon variant="subtle" color="gray" aria-label={`Remove filter ${i + 1}`} onClick={() => setFilters(filters.filter((_, j) => j !== i))} mb={4}>
                ×
              </ActionIcon>
            </Group>
          ))}
          <Group gap="xs" align="flex-end">
            <Button variant="light" onClick={() => setFilters([...filters, { name: '', prefix: '', value: '' }])}>
              Add filter
            </Button>
            <Select label="Page size" data={['10', '20', '50', '100']} value={controls.count} onChange={(v) => setControls({ ...controls, count: v ?? '20' })} w={110} allowDeselect={false} />
            <TextInput label="Sort" placeholder="-_lastUpdated" value={controls.sort} onChange={(e) => setControls({ ...controls, sort: e.currentTarget.value })} w={160} />
            <Button type="submit">Search</Button>
          </Group>
          {cap?.searchInclude?.length ? (
            <Checkbox.Group label="Include referenced resources (_include)" value={controls.include} onChange={(include) => setControls({ ...controls, include })}>
              <Group gap="sm" mt={4}>
                {cap.searchInclude.filter((i) => i !== '*').map((inc) => (
                  <Checkbox key={inc} value={inc} label={inc} />
                ))}
              </Group>
            </Checkbox.Group>
          ) : null}
        </Stack>
      </form>
      <MultiSelect label="Columns" data={elementNames} value={columns} onChange={setColumns} placeholder="pick elements to show" clearable maw={600} />
      {result.loading ? <Loading label="Searching…" /> : null}
      <ErrorAlert error={result.error} />
      {result.data ? (
        <>
          <Text size="sm" c="dimmed">
            {result.data.total !== undefined ? `${result.data.total} found` : `${matches.length} on this page`}
          </Text>
          <div className="table-scroll">
            <Table striped highlightOnHover aria-label={`${type} results`}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>id</Table.Th>
                  {columns.length ? columns.map((c) => <Table.Th key={c}>{c}</Table.Th>) : <Table.Th>summary</Table.Th>}
                  <Table.Th>last updated</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {matches.map(({ resource }) => (
                  <Table.Tr key={resource?.id}>
                    <Table.Td>
                      <Link to={pathOf(type, resource?.id)}>{resource?.id}</Link>
                    </Table.Td>
                    {columns.length ? columns.map((c) => <Table.Td key={c}>{cell(resource?.[c])}</Table.Td>) : <Table.Td>{resource ? describe(resource) : ''}</Table.Td>}
                    <Table.Td>{resource?.meta?.lastUpdated}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </div>
          <Group>
            <Button variant="default" disabled={!link('previous') && !link('prev')} onClick={() => setPage(client.relative(link('previous') ?? link('prev') ?? ''))}>
              Previous page
            </Button>
            <Button variant="default" disabled={!link('next')} onClick={() => setPage(client.relative(link('next') ?? ''))}>
              Next page
            </Button>
          </Group>
          {included.length ? (
            <Stack gap={2}>
              <Title order={3} size="h5">
                Included
              </Title>
              {included.map(({ resource }) => (
                <Link key={`${resource?.resourceType}/${resource?.id}`} to={pathOf(String(resource?.resourceType), resource?.id)}>
                  {resource?.resourceType}/{resource?.id} {resource ? describe(resource) : ''}
                </Link>
              ))}
            </Stack>
          ) : null}
        </>
      ) : null}
    </Stack>
  );
}
