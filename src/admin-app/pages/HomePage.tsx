/** The list of resource types of the CapabilityStatement, filtered by name. */
import { Badge, Group, SimpleGrid, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { Link } from '../components/common';
import { useApp } from '../context';
import { pathOf } from '../router';

const AUTH_TYPES = new Set(['ClientApplication', 'User', 'Membership', 'AccessPolicy', 'IdentityProvider']);

export function HomePage() {
  const { capability } = useApp();
  const [filter, setFilter] = useState('');
  const types = (capability.rest?.[0]?.resource ?? []).map((r) => r.type).sort();
  const shown = types.filter((t) => t.toLowerCase().includes(filter.trim().toLowerCase()));
  return (
    <>
      <Title order={2} mb="sm">
        Resources
      </Title>
      <TextInput label="Filter resource types" placeholder="Patient, Observation…" value={filter} onChange={(e) => setFilter(e.currentTarget.value)} maw={360} mb="md" />
      <Text size="sm" c="dimmed" mb="xs">
        {shown.length} of {types.length} types
      </Text>
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="xs" component="ul" style={{ listStyle: 'none', padding: 0 }}>
        {shown.map((type) => (
          <li key={type}>
            <Group gap={6}>
              <Link to={pathOf(type)}>{type}</Link>
              {AUTH_TYPES.has(type) ? <Badge size="xs" variant="light">auth</Badge> : null}
            </Group>
          </li>
        ))}
      </SimpleGrid>
    </>
  );
}
