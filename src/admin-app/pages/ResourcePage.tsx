/**
 * One resource: its JSON, an edit tab (the type's form, or the JSON editor), its history with a diff between two
 * chosen versions, and delete with confirmation. A refusal (403) or absence (404, 410) is shown as such.
 */
import { Button, Code, Group, Modal, Select, Stack, Table, Tabs, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { ErrorAlert, Loading, useAsync } from '../components/common';
import { useApp } from '../context';
import { describe } from '../display';
import { diffLines } from '../diff';
import type { Bundle, Resource } from '../fhir';
import { navigate, pathOf } from '../router';
import { EditPage } from './EditPage';

function strip(resource: Resource | undefined): string {
  return resource ? JSON.stringify(resource, null, 2) : '';
}

export function HistoryView({ bundle }: { bundle: Bundle }) {
  const versions = (bundle.entry ?? []).map((e) => ({
    version: e.resource?.meta?.versionId ?? e.request?.url?.split('/').pop() ?? '?',
    resource: e.resource,
    method: e.request?.method ?? '',
    when: e.resource?.meta?.lastUpdated ?? '',
  }));
  const [from, setFrom] = useState<string | null>(versions[1]?.version ?? versions[0]?.version ?? null);
  const [to, setTo] = useState<string | null>(versions[0]?.version ?? null);
  const a = versions.find((v) => v.version === from);
  const b = versions.find((v) => v.version === to);
  const lines = diffLines(strip(a?.resource), strip(b?.resource));
  return (
    <Stack gap="sm">
      <Table aria-label="Versions">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>version</Table.Th>
            <Table.Th>change</Table.Th>
            <Table.Th>when</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {versions.map((v) => (
            <Table.Tr key={v.version}>
              <Table.Td>{v.version}</Table.Td>
              <Table.Td>{v.resource ? v.method || 'write' : 'DELETE'}</Table.Td>
              <Table.Td>{v.when}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group>
        <Select label="Compare version" data={versions.map((v) => v.version)} value={from} onChange={setFrom} w={150} />
        <Select label="with version" data={versions.map((v) => v.version)} value={to} onChange={setTo} w={150} />
      </Group>
      <div aria-label="Difference" role="region" data-testid="diff">
        {lines.map((line, i) => (
          <pre key={i} className={`diff-line ${line.kind === 'add' ? 'diff-add' : line.kind === 'del' ? 'diff-del' : ''}`}>
            {line.kind === 'add' ? '+ ' : line.kind === 'del' ? '- ' : '  '}
            {line.text}
          </pre>
        ))}
      </div>
    </Stack>
  );
}

export function ResourcePage({ type, id, tab }: { type: string; id: string; tab?: string }) {
  const { client } = useApp();
  const current = useAsync(() => client.read(type, id), [type, id]);
  const history = useAsync(() => (tab === 'history' ? client.history(type, id) : Promise.resolve(undefined)), [type, id, tab]);
  const [confirming, setConfirming] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>();

  const remove = async () => {
    try {
      await client.delete(type, id);
      setConfirming(false);
      navigate(pathOf(type));
    } catch (err) {
      setDeleteError(err);
      setConfirming(false);
    }
  };

  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={2}>
          {type}/{id}
        </Title>
        <Button color="red" variant="outline" onClick={() => setConfirming(true)} disabled={!current.data}>
          Delete
        </Button>
      </Group>
      {current.data ? <Text c="dimmed">{describe(current.data)} · version {current.data.meta?.versionId} · {current.data.meta?.lastUpdated}</Text> : null}
      <ErrorAlert error={deleteError} title="Delete refused" />
      <Tabs value={tab ?? 'json'} onChange={(value) => navigate(pathOf(type, id, value === 'json' ? undefined : (value ?? undefined)))} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="json">JSON</Tabs.Tab>
          <Tabs.Tab value="edit">Edit</Tabs.Tab>
          <Tabs.Tab value="history">History</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="json" pt="sm">
          {current.loading ? <Loading /> : null}
          <ErrorAlert error={current.error} />
          {current.data ? <Code block data-testid="resource-json">{JSON.stringify(current.data, null, 2)}</Code> : null}
        </Tabs.Panel>
        <Tabs.Panel value="edit" pt="sm">
          {current.loading ? <Loading /> : null}
          <ErrorAlert error={current.error} />
          {current.data ? <EditPage type={type} existing={current.data} onSaved={() => current.reload()} /> : null}
        </Tabs.Panel>
        <Tabs.Panel value="history" pt="sm">
          {history.loading ? <Loading /> : null}
          <ErrorAlert error={history.error} />
          {history.data ? <HistoryView bundle={history.data} /> : null}
        </Tabs.Panel>
      </Tabs>
      <Modal opened={confirming} onClose={() => setConfirming(false)} title={`Delete ${type}/${id}?`} closeButtonProps={{ 'aria-label': 'Close' }}>
        <Text mb="md">The resource is deleted; its history is kept. A read answers 410 afterwards.</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => setConfirming(false)}>
            Cancel
          </Button>
          <Button color="red" onClick={() => void remove()}>
            Delete
          </Button>
        </Group>
      </Modal>
    </Stack>
  );
}
