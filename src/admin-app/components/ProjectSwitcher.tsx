/**
 * The project switcher: shows the current project and opens another one (`/admin/p/{tenant}/{project}/`), which
 * signs in to that project (each project is its own authorization server). Projects listed by the server (the
 * `Project` resources of the system project, where that type exists and the user may search it) are offered;
 * any `tenant/project` can be typed.
 */
import { Button, Popover, Select, Stack, Text, TextInput, UnstyledButton } from '@mantine/core';
import { useEffect, useState } from 'react';
import type { AppConfig } from '../auth';
import { useApp } from '../context';

const SLUG = /^[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+$/;

export function ProjectSwitcher({ current }: { current: AppConfig }) {
  const { client } = useApp();
  const [opened, setOpened] = useState(false);
  const [target, setTarget] = useState('');
  const [listed, setListed] = useState<string[]>([]);
  useEffect(() => {
    if (!opened) return;
    client.search('Project', '_count=100').then(
      (bundle) =>
        setListed(
          (bundle.entry ?? []).flatMap((e) => {
            const r = e.resource as { tenant?: string; name?: string; status?: string } | undefined;
            return r?.tenant && r.name && r.status !== 'inactive' ? [`${r.tenant}/${r.name}`] : [];
          }),
        ),
      () => setListed([]),
    );
  }, [opened, client]);
  const open = (value: string) => {
    if (SLUG.test(value)) window.location.assign(`/admin/p/${value}/`);
  };
  return (
    <Popover opened={opened} onChange={setOpened} position="bottom-start" withArrow trapFocus>
      <Popover.Target>
        <UnstyledButton onClick={() => setOpened((o) => !o)} aria-label={`Project ${current.tenant}/${current.project}: switch project`}>
          <Text size="sm" c="dimmed">
            project {current.tenant}/{current.project} ▾
          </Text>
        </UnstyledButton>
      </Popover.Target>
      <Popover.Dropdown>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            open(target.trim());
          }}
        >
          <Stack gap="xs" w={280}>
            {listed.length ? <Select label="Projects" data={listed} searchable onChange={(v) => v && open(v)} /> : null}
            <TextInput label="Open project (tenant/project)" placeholder="acme/clinic" value={target} onChange={(e) => setTarget(e.currentTarget.value)} error={target && !SLUG.test(target.trim()) ? 'tenant/project' : undefined} />
            <Button type="submit" disabled={!SLUG.test(target.trim())}>
              Open
            </Button>
          </Stack>
        </form>
      </Popover.Dropdown>
    </Popover>
  );
}
