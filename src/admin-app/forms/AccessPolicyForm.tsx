/**
 * AccessPolicy: name, engine, targets (Memberships and ClientApplications), and the rules as a tree; every
 * FHIRPath expression is edited with highlighting, and the server's compile errors appear under the expression
 * they name (`AccessPolicy.rule[1].condition.expression`). Attributes are edited in the JSON tab.
 */
import { ActionIcon, Button, Card, Group, Select, SimpleGrid, Stack, Text, Textarea, TextInput } from '@mantine/core';
import { ReferencePicker } from '../components/ReferencePicker';
import { FhirPathEditor } from '../components/editors';
import type { Resource } from '../fhir';
import { errorAt, type FieldErrors, type FormProps, withField } from './form-utils';

/** One rule of the tree. */
export interface Rule {
  name?: string;
  description?: string;
  effect?: string;
  target?: { expression: string };
  condition?: { expression: string };
  combineBehavior?: string;
  rule?: Rule[];
}

function withExpression(rule: Rule, key: 'target' | 'condition', expression: string): Rule {
  const copy = { ...rule };
  if (expression.trim() === '') delete copy[key];
  else copy[key] = { expression };
  return copy;
}

function RuleEditor({ rule, path, errors, onChange, onRemove }: { rule: Rule; path: string; errors: FieldErrors; onChange: (r: Rule) => void; onRemove: () => void }) {
  const label = path.replace(/\[(\d+)\]/g, (_, n: string) => ` ${Number(n) + 1}`).replace(/\./g, ' › ').replace(/^rule/, 'Rule');
  const set = (key: keyof Rule, v: unknown) => {
    const copy = { ...rule } as Record<string, unknown>;
    if (v === undefined || v === '') delete copy[key];
    else copy[key] = v;
    onChange(copy as Rule);
  };
  const children = rule.rule ?? [];
  const own = errorAt(errors, path, true);
  return (
    <Card withBorder padding="sm" component="section" aria-label={label}>
      <Stack gap="xs">
        <Group justify="space-between">
          <Text fw={600}>{label}</Text>
          <ActionIcon variant="subtle" color="red" aria-label={`Remove ${label}`} onClick={onRemove}>
            ×
          </ActionIcon>
        </Group>
        {own ? (
          <Text c="red" size="sm" role="alert">
            {own}
          </Text>
        ) : null}
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <TextInput label={`${label} name`} value={rule.name ?? ''} onChange={(e) => set('name', e.currentTarget.value)} />
          <Select label={`${label} effect`} data={['permit', 'deny']} value={rule.effect ?? 'permit'} onChange={(v) => set('effect', v ?? undefined)} allowDeselect={false} />
          <Select label={`${label} nested rules combine`} data={['any', 'all']} value={rule.combineBehavior ?? 'any'} onChange={(v) => set('combineBehavior', v ?? undefined)} allowDeselect={false} />
        </SimpleGrid>
        <FhirPathEditor
          label={`${label} target (when the rule applies)`}
          placeholder="%request.resourceType = 'Observation'"
          value={rule.target?.expression ?? ''}
          onChange={(v) => onChange(withExpression(rule, 'target', v))}
          error={errorAt(errors, `${path}.target`)}
        />
        <FhirPathEditor
          label={`${label} condition (when it yields its effect)`}
          placeholder="%resource.subject.reference = 'Patient/' + %fhirUser.id"
          value={rule.condition?.expression ?? ''}
          onChange={(v) => onChange(withExpression(rule, 'condition', v))}
          error={errorAt(errors, `${path}.condition`)}
        />
        {children.map((child, i) => (
          <RuleEditor
            key={i}
            rule={child}
            path={`${path}.rule[${i}]`}
            errors={errors}
            onChange={(r) => set('rule', children.map((c, j) => (j === i ? r : c)))}
            onRemove={() => set('rule', children.filter((_, j) => j !== i).length ? children.filter((_, j) => j !== i) : undefined)}
          />
        ))}
        <Group>
          <Button size="xs" variant="light" onClick={() => set('rule', [...children, {}])}>
            Add nested rule to {label}
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

export function AccessPolicyForm({ value, onChange, errors }: FormProps) {
  const set = (key: string, v: unknown) => onChange(withField(value, key, v));
  const targets = ((value.target as Array<{ link?: { reference?: string } }> | undefined) ?? []).map((t) => t.link?.reference ?? '');
  const rules = (value.rule as Rule[] | undefined) ?? [];
  const setTargets = (refs: string[]) => set('target', refs.map((reference) => ({ link: { reference } })));
  return (
    <Stack gap="sm">
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <TextInput label="Policy name" required value={String(value.name ?? '')} onChange={(e) => set('name', e.currentTarget.value)} error={errorAt(errors, 'name')} />
        <Select
          label="Engine"
          data={[
            { value: 'rule-engine', label: 'rule-engine (rules below)' },
            { value: 'full-access', label: 'full-access (permits everything)' },
          ]}
          value={(value.engine as string | undefined) ?? null}
          onChange={(v) => set('engine', v ?? undefined)}
          error={errorAt(errors, 'engine')}
          allowDeselect={false}
        />
      </SimpleGrid>
      <Textarea label="Policy description" value={String(value.description ?? '')} onChange={(e) => set('description', e.currentTarget.value)} autosize minRows={1} />
      <Stack gap={4}>
        <Text fw={500} size="sm">
          Applies to
        </Text>
        {targets.map((reference, i) => (
          <Group key={i} align="flex-end" wrap="nowrap">
            <div style={{ flex: 1 }}>
              <ReferencePicker
                label={`Target ${i + 1}`}
                types={['Membership', 'ClientApplication']}
                value={reference || undefined}
                onChange={(r) => setTargets(targets.map((t, j) => (j === i ? (r ?? '') : t)))}
                error={errorAt(errors, `target[${i}]`)}
              />
            </div>
            <ActionIcon variant="subtle" color="red" aria-label={`Remove target ${i + 1}`} onClick={() => setTargets(targets.filter((_, j) => j !== i))} mb={4}>
              ×
            </ActionIcon>
          </Group>
        ))}
        <Group>
          <Button size="xs" variant="light" onClick={() => setTargets([...targets, ''])}>
            Add target
          </Button>
        </Group>
      </Stack>
      <Text fw={500} size="sm">
        Rules
      </Text>
      {rules.map((rule, i) => (
        <RuleEditor
          key={i}
          rule={rule}
          path={`rule[${i}]`}
          errors={errors}
          onChange={(r) => set('rule', rules.map((c, j) => (j === i ? r : c)))}
          onRemove={() => set('rule', rules.filter((_, j) => j !== i))}
        />
      ))}
      <Group>
        <Button size="xs" variant="light" onClick={() => set('rule', [...rules, {}])}>
          Add rule
        </Button>
      </Group>
      {errorAt(errors, 'attribute') ? (
        <Text c="red" size="sm" role="alert">
          Attributes: {errorAt(errors, 'attribute')} (edit them in the JSON tab)
        </Text>
      ) : null}
    </Stack>
  );
}

export const NEW_POLICY: Resource = { resourceType: 'AccessPolicy', name: '', engine: 'rule-engine' };
