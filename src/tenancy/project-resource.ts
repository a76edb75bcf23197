/**
 * The rules of the `Project` resource (docs/projects.md), checked by the repository on every write of one:
 * - `tenant` and `name` are slugs (lower-case letters, digits, hyphens; 1-63 characters, not starting with a hyphen)
 *   and never change after creation;
 * - `owner` and `seed` act only at creation: an update that omits them keeps the stored values, one that changes
 *   them is refused;
 * - `owner` names a User of the project the resource lives in (the system project), as `User/{id}`;
 * - `seed` names a bundle under seed/ (`demo` for seed/demo.json);
 * - the system project's own Project is never inactive.
 * Every refusal is a 400 naming the element. Two Projects with the same tenant and name are refused by the store's
 * unique key (409), see write-only-fields.ts `uniqueKeysFor`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema';
import { BadRequestError } from '../fhir/errors';
import { SEED_DIR } from '../paths';
import { isSlug } from './projects';

type Json = Record<string, unknown>;

/** The bundles of seed/ that may not be loaded into a new project (the bootstrap bundle has its own rules). */
const RESERVED_SEEDS: ReadonlySet<string> = new Set(['bootstrap']);

/**
 * The key of the system project (the bootstrap project), where Project resources live.
 * @param config - BOOTSTRAP_TENANT and BOOTSTRAP_PROJECT
 * @returns `tenant/project`
 */
export function systemProjectKey(config: Pick<Config, 'bootstrapTenant' | 'bootstrapProject'>): string {
  return `${config.bootstrapTenant}/${config.bootstrapProject}`;
}

/**
 * The User id a Project's `owner` names, when it is a relative `User/{id}` reference.
 * @param project - the Project resource
 * @returns the id, or undefined when there is no owner
 * @throws BadRequestError when `owner` is present but not such a reference
 */
export function ownerIdOf(project: Json): string | undefined {
  const owner = project.owner as Json | undefined;
  if (owner === undefined) return undefined;
  const match = typeof owner.reference === 'string' ? /^User\/([A-Za-z0-9\-.]{1,64})$/.exec(owner.reference) : null;
  if (!match) throw new BadRequestError("Project.owner must be a reference 'User/{id}' to a User of the system project", ['Project.owner']);
  return match[1];
}

function slugError(element: 'tenant' | 'name', value: unknown): BadRequestError {
  const shown = typeof value === 'string' ? `'${value.slice(0, 80)}'` : 'missing';
  return new BadRequestError(
    `Project.${element} must be a slug: 1-63 lower-case letters, digits or hyphens, starting with a letter or digit (got ${shown})`,
    [`Project.${element}`],
  );
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Checks that the owner a new Project names exists. Called only once the write is permitted, so that the answer
 * tells nothing about the system project's users to a caller who may not create the Project.
 * @param project - the new Project
 * @param userExists - whether a User id exists (live) in the system project
 * @throws BadRequestError naming `Project.owner`
 */
export async function assertProjectOwnerExists(project: Json, userExists: (id: string) => Promise<boolean>): Promise<void> {
  const ownerId = ownerIdOf(project);
  if (ownerId !== undefined && !(await userExists(ownerId))) {
    throw new BadRequestError(`Project.owner: User/${ownerId} is not a User of the system project`, ['Project.owner']);
  }
}

/**
 * Checks a Project write and completes an update with the create-only elements it omits.
 * @param next - the incoming version
 * @param before - the stored version it replaces (undefined for a create)
 * @param systemProject - the key of the project the Project is written to (the system project)
 * @returns the version to store
 * @throws BadRequestError naming the element
 */
export function completeProjectWrite(next: Json, before: Json | undefined, systemProject: string): Json {
  if (!isSlug(next.tenant)) throw slugError('tenant', next.tenant);
  if (!isSlug(next.name)) throw slugError('name', next.name);
  if (`${next.tenant}/${next.name}` === systemProject && next.status === 'inactive') {
    throw new BadRequestError('The system project cannot be deactivated: it is where projects are managed', ['Project.status']);
  }
  if (before) {
    for (const element of ['tenant', 'name'] as const) {
      if (next[element] !== before[element]) {
        throw new BadRequestError(`Project.${element} cannot change after the project is created (it is '${String(before[element])}')`, [`Project.${element}`]);
      }
    }
    const completed: Json = { ...next };
    for (const element of ['owner', 'seed'] as const) {
      if (next[element] === undefined) {
        if (before[element] !== undefined) completed[element] = before[element];
      } else if (!sameJson(next[element], before[element])) {
        throw new BadRequestError(`Project.${element} acts only when the project is created and cannot change afterwards`, [`Project.${element}`]);
      }
    }
    return completed;
  }
  ownerIdOf(next);
  if (next.seed !== undefined) {
    const seed = next.seed;
    if (typeof seed !== 'string' || !isSlug(seed) || RESERVED_SEEDS.has(seed) || !existsSync(path.join(SEED_DIR, `${seed}.json`))) {
      throw new BadRequestError(`Project.seed must name a seed bundle under seed/ (e.g. 'demo'); got '${String(seed).slice(0, 80)}'`, ['Project.seed']);
    }
  }
  return next;
}
