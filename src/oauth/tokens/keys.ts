/**
 * Signing keys per project, kept in the record store (kind `signing-key`) so every instance sharing the store
 * signs and verifies with the same keys. The first key is created on first use. Rotation retires the active key
 * and creates a new one; a retired key stays in the JWKS (and keeps verifying) until every token it signed has
 * expired (`removeAfter` = retirement + the longest token lifetime), then it disappears.
 * Keys are cached in memory per project and reloaded at most every {@link RELOAD_MS} (rotation by another
 * instance is picked up then; a token signed with an unknown `kid` triggers a reload, at most every 5 s).
 * Private keys are stored sealed with the key-encryption key (key-record.ts) and opened once per kid: a key's
 * material never changes, so a reload only opens keys it has not seen.
 */
import { type DecisionListener, NO_AUDIT } from '../../audit/events';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike } from 'jose';
import type { KeyEncryption } from '../../security/key-encryption';
import type { RecordStore } from '../../storage/ports';
import { type KeyRecord, keyRecordOf, openPrivateJwk, sealPrivateJwk, SIGNING_KEY_KIND } from './key-record';

/** Signature algorithm of access and id tokens. */
export const SIGNING_ALG = 'RS256';
const KIND = SIGNING_KEY_KIND;
const RELOAD_MS = 60_000;
/** Tokens naming an unknown `kid` reload the keys at most this often (they must not turn into store scans). */
const UNKNOWN_KID_RELOAD_MS = 5_000;
/** Longest lifetime of anything a key signs (access and id tokens), in seconds: 1 day. */
export const MAX_SIGNED_LIFETIME = 24 * 3600;
/** How long after its retirement a key may still sign, in seconds: instances that have not reloaded yet. */
export const RETIRED_KEY_SIGNING_GRACE = RELOAD_MS / 1000;

/** A key ready to use. */
export interface SigningKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateKey: KeyLike | Uint8Array;
  publicKey: KeyLike | Uint8Array;
  retired: boolean;
  /** When it was retired (epoch seconds): nothing it signed later (beyond a grace) is genuine. */
  retiredAt?: number;
}

/** A stored key as the `keys` command lists it: no key material. */
export interface KeyDescription {
  kid: string;
  alg: string;
  createdAt: string;
  retiredAt?: string;
  removeAfter?: string;
}

interface ProjectKeys {
  loadedAt: number;
  keys: SigningKey[];
}

/** The signing keys of every project. */
export class KeyStore {
  private readonly cache = new Map<string, Promise<ProjectKeys>>();
  private readonly creating = new Map<string, Promise<string>>();
  private readonly forcedAt = new Map<string, number>();
  /** Imported key pairs by `{project}|{kid}`. */
  private readonly imported = new Map<string, Promise<Pick<SigningKey, 'privateKey' | 'publicKey'>>>();

  /**
   * @param records - the record store holding the keys
   * @param encryption - the key-encryption keys that seal and open the private keys
   * @param audit - where key creation and rotation are recorded
   * @param operator - who acts when no request does (the `keys` command), as the events name it
   */
  constructor(
    private readonly records: RecordStore,
    private readonly encryption: KeyEncryption,
    private readonly audit: DecisionListener = NO_AUDIT,
    private readonly operator = 'fhir-server',
  ) {}

  /**
   * The key new tokens are signed with (created on first use).
   * @param project - the project key
   * @returns the active key
   */
  async activeKey(project: string): Promise<SigningKey> {
    let keys = await this.load(project);
    let active = keys.keys.find((k) => !k.retired);
    if (!active) {
      let creation = this.creating.get(project);
      if (!creation) {
        creation = this.create(project).finally(() => this.creating.delete(project));
        this.creating.set(project, creation);
      }
      await creation;
      keys = await this.load(project, true);
      active = keys.keys.find((k) => !k.retired);
    }
    if (!active) throw new Error(`no signing key for project ${project}`);
    return active;
  }

  /**
   * The key with a `kid`, for verification (active or retired but not yet removed).
   * @param project - the project key
   * @param kid - the key id from a token header
   * @returns the key, or undefined
   */
  async verificationKey(project: string, kid: string): Promise<SigningKey | undefined> {
    const found = (await this.load(project)).keys.find((k) => k.kid === kid);
    if (found) return found;
    // Another instance may have rotated: look again, but not on every request that names a bogus kid.
    const now = Date.now();
    if (now - (this.forcedAt.get(project) ?? 0) < UNKNOWN_KID_RELOAD_MS) return undefined;
    this.forcedAt.set(project, now);
    return (await this.load(project, true)).keys.find((k) => k.kid === kid);
  }

  /**
   * The public keys to publish.
   * @param project - the project key
   * @returns the JWKS document
   */
  async jwks(project: string): Promise<{ keys: JWK[] }> {
    await this.activeKey(project);
    const { keys } = await this.load(project);
    return { keys: keys.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' })) };
  }

  /**
   * Retires the active key (it stays published until its tokens have expired) and creates a new one.
   * @param project - the project key
   * @returns the new key id and the retired one
   */
  async rotate(project: string): Promise<{ kid: string; retired?: string }> {
    const now = new Date();
    // Other instances may sign with the retired key until they next reload (RELOAD_MS): keep it that much longer.
    const removeAfter = new Date(now.getTime() + MAX_SIGNED_LIFETIME * 1000 + 2 * RELOAD_MS).toISOString();
    let retired: string | undefined;
    for (const record of await this.records.find(KIND, { project })) {
      const value = keyRecordOf(record);
      if (value.retiredAt) continue;
      retired = value.kid;
      await this.records.put({ ...record, value: { ...value, retiredAt: now.toISOString(), removeAfter }, expiresAt: removeAfter });
    }
    const kid = await this.create(project, false);
    await this.load(project, true);
    this.recordKeyEvent('signing-key-rotated', project, kid, retired);
    return { kid, retired };
  }

  /**
   * The stored keys of a project, without private parts (for the `keys` command).
   * @param project - the project key
   * @returns kid, algorithm and lifecycle dates, oldest first
   */
  async describe(project: string): Promise<KeyDescription[]> {
    const records = await this.records.find(KIND, { project });
    return records
      .map(keyRecordOf)
      .map(({ kid, alg, createdAt, retiredAt, removeAfter }) => ({ kid, alg, createdAt, retiredAt, removeAfter }))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  private recordKeyEvent(name: 'signing-key-created' | 'signing-key-rotated', project: string, kid: string, retired?: string): void {
    const entities = [{ name: 'kid', value: kid }];
    if (retired) entities.push({ name: 'retired kid', value: retired });
    this.audit.record({ kind: 'security', name, at: Date.now(), caller: { project, operator: this.operator }, outcome: { status: 200, decision: 'permitted' }, entities });
  }

  private async create(project: string, record = true): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true, modulusLength: 2048 });
    const kid = randomUUID();
    const value: KeyRecord = {
      project,
      kid,
      alg: SIGNING_ALG,
      publicJwk: await exportJWK(publicKey),
      encryptedPrivateJwk: sealPrivateJwk(this.encryption, { project, kid }, await exportJWK(privateKey)),
      createdAt: new Date().toISOString(),
    };
    await this.records.put({ kind: KIND, key: `${project}|${kid}`, value: value as unknown as Record<string, unknown> });
    if (record) this.recordKeyEvent('signing-key-created', project, kid);
    return kid;
  }

  private async load(project: string, force = false): Promise<ProjectKeys> {
    const cached = this.cache.get(project);
    if (cached && !force) {
      const keys = await cached;
      if (Date.now() - keys.loadedAt < RELOAD_MS) return keys;
    }
    const loading = this.read(project);
    this.cache.set(project, loading);
    loading.catch(() => this.cache.delete(project));
    return loading;
  }

  private async read(project: string): Promise<ProjectKeys> {
    const records = await this.records.find(KIND, { project });
    const now = new Date().toISOString();
    const keys: SigningKey[] = [];
    for (const record of records) {
      const value = keyRecordOf(record);
      if (value.removeAfter && value.removeAfter <= now) continue;
      keys.push({
        kid: value.kid,
        alg: value.alg,
        publicJwk: value.publicJwk,
        ...(await this.importPair(value)),
        retired: value.retiredAt !== undefined,
        retiredAt: value.retiredAt !== undefined ? Math.floor(Date.parse(value.retiredAt) / 1000) : undefined,
      });
    }
    // Newest active key first, so two keys created concurrently by two instances settle on one.
    keys.sort((a, b) => Number(a.retired) - Number(b.retired) || (a.kid < b.kid ? -1 : 1));
    return { loadedAt: Date.now(), keys };
  }

  private importPair(value: KeyRecord): Promise<Pick<SigningKey, 'privateKey' | 'publicKey'>> {
    const id = `${value.project}|${value.kid}`;
    let pair = this.imported.get(id);
    if (!pair) {
      pair = (async () => ({
        privateKey: await importJWK(openPrivateJwk(this.encryption, value), value.alg),
        publicKey: await importJWK(value.publicJwk, value.alg),
      }))();
      this.imported.set(id, pair);
      pair.catch(() => this.imported.delete(id));
    }
    return pair;
  }
}
