/**
 * Picks a reference to a resource of given types: a searchable list filled by searching those types (`_count`
 * 100, newest first, and by name when the type has a `name` parameter and something is typed), labelled `Type/id — name`. A reference typed in full is accepted too.
 */
import { Select } from '@mantine/core';
import { useEffect, useState } from 'react';
import { typeCapability, useApp } from '../context';
import { describe } from '../display';

export interface ReferencePickerProps {
  label: string;
  types: string[];
  value: string | undefined;
  onChange: (reference: string | undefined) => void;
  error?: string;
  description?: string;
  required?: boolean;
}

export function ReferencePicker({ label, types, value, onChange, error, description, required }: ReferencePickerProps) {
  const { client, capability } = useApp();
  const [search, setSearch] = useState('');
  const [options, setOptions] = useState<Array<{ value: string; label: string }>>([]);
  useEffect(() => {
    let live = true;
    const term = search.includes(' — ') || /^[A-Z][A-Za-z]+\//.test(search) ? '' : search.trim();
    const timer = setTimeout(() => {
      const queries = types.flatMap((type) => {
        const list = [{ type, query: '_count=100&_sort=-_lastUpdated' }];
        const byName = typeCapability(capability, type)?.searchParam?.some((p) => p.name === 'name' && p.type === 'string');
        if (term && byName) list.push({ type, query: new URLSearchParams({ _count: '50', 'name:contains': term }).toString() });
        return list;
      });
      void Promise.all(
        queries.map(({ type, query }) =>
          client.search(type, query).then(
            (bundle) => (bundle.entry ?? []).flatMap((e) => (e.resource ? [{ value: `${type}/${e.resource.id}`, label: `${type}/${e.resource.id} — ${describe(e.resource)}` }] : [])),
            () => [],
          ),
        ),
      ).then((lists) => {
        if (!live) return;
        const seen = new Set<string>();
        setOptions(lists.flat().filter((o) => !seen.has(o.value) && Boolean(seen.add(o.value))));
      });
    }, 200);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, capability, search, types.join(',')]);
  const data = value && !options.some((o) => o.value === value) ? [{ value, label: value }, ...options] : options;
  return (
    <Select
      label={label}
      description={description}
      required={required}
      searchable
      clearable
      data={data}
      value={value ?? null}
      onChange={(v) => onChange(v ?? undefined)}
      onSearchChange={setSearch}
      error={error}
      nothingFoundMessage="Nothing found"
    />
  );
}
