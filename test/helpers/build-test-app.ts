/**
 * Builds the real application on a fresh embedded store in a temporary directory, with the bootstrap project
 * created exactly as `npm start` does. Nothing is stubbed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { createLogger } from '../../src/logger';
import { type BootstrapResult, bootstrap } from '../../src/seed/bootstrap';
import { openStorage } from '../../src/storage/open';
import type { Storage } from '../../src/storage/ports';
import { ProjectRegistry } from '../../src/tenancy/projects';

/** A running test app and what it was built from. */
export interface TestApp {
  app: Express;
  config: Config;
  storage: Storage;
  projects: ProjectRegistry;
  boot: BootstrapResult;
  /** FHIR base path of the bootstrap project (relative, for supertest). */
  base: string;
  /** Every log line the app wrote, parsed. */
  logLines: Array<Record<string, unknown>>;
  /** Closes the store and deletes the data directory. */
  close(): Promise<void>;
}

/**
 * Builds a test app.
 * @param env - extra environment variables (config names as in README)
 * @returns the app and its parts
 */
export async function buildTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'fhir-test-'));
  const config = loadConfig({
    PORT: '0',
    PUBLIC_URL: 'https://fhir.example.test',
    DATA_DIR: dataDir,
    ADMIN_PASSWORD: 'correct horse battery staple',
    ADMIN_CLIENT_SECRET: 'admin-client-secret-for-tests',
    LOG_LEVEL: 'info',
    ...env,
  });
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const logger = createLogger(config.logLevel, sink);
  const storage = await openStorage({ dataDir, logger });
  const projects = new ProjectRegistry(storage.records);
  const boot = await bootstrap(config, storage, projects);
  const app = buildApp({ config, storage, logger, projects });
  return {
    app,
    config,
    storage,
    projects,
    boot,
    base: `/w/${config.bootstrapTenant}/${config.bootstrapProject}/api/v1/fhir/r4`,
    logLines,
    close: async () => {
      await storage.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
