/**
 * The start-up steps of src/startup.ts in-process: the line each failure prints, the hosts named for a MongoDB
 * connection string (never its credentials), a busy port, an unwritable DATA_DIR. The process tests
 * (startup-failures.test.ts) run the same failures through the real entry point.
 */
import * as fs from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { DataDirLockedError } from '../../src/storage/embedded';
import { checkDataDir, listen, mongoHosts, StartupError, startupFailureLine } from '../../src/startup';

describe('mongoHosts', () => {
  it.each([
    ['mongodb://db:27017/fhir?replicaSet=rs0', 'db:27017'],
    ['mongodb://user:p%40ss@db1:27017,db2:27018/fhir?authSource=admin', 'db1:27017,db2:27018'],
    ['mongodb+srv://user:pw@cluster0.example.net/?retryWrites=true', 'cluster0.example.net'],
    ['mongodb://[::1]:27017', '[::1]:27017'],
    ['mongodb://a:b@c@host', 'host'],
  ])('%s names %s', (uri, hosts) => {
    expect(mongoHosts(uri)).toBe(hosts);
  });
});

describe('startupFailureLine', () => {
  it('names DATA_DIR and the owner for a held lock', () => {
    expect(startupFailureLine(new DataDirLockedError('/srv/fhir', 4711))).toBe(
      'Start-up failed: DATA_DIR /srv/fhir is in use by process 4711 (its LOCK file): stop that process or choose another DATA_DIR; if it is gone, remove /srv/fhir/LOCK',
    );
  });

  it('names DATA_DIR for a file-system error under it, and keeps every message on one line', () => {
    const config = loadConfig({ DATA_DIR: '/srv/fhir' });
    const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', path: '/srv/fhir/journal.ndjson' });
    expect(startupFailureLine(eacces, config)).toBe('Start-up failed: DATA_DIR /srv/fhir: EACCES on /srv/fhir/journal.ndjson');
    expect(startupFailureLine(new StartupError('one\n  two\nthree'))).toBe('Start-up failed: one two three');
  });
});

describe('listen', () => {
  it('rejects a port in use with the line naming PORT, and resolves only once bound', async () => {
    const occupant = net.createServer();
    await new Promise<void>((resolve) => occupant.listen(0, '127.0.0.1', resolve));
    const port = (occupant.address() as net.AddressInfo).port;
    try {
      await expect(listen(() => undefined, { host: '127.0.0.1', port })).rejects.toThrow(
        new StartupError(`PORT ${port} is already in use (HOST 127.0.0.1): stop the other process or choose another PORT`),
      );
    } finally {
      await new Promise((resolve) => occupant.close(resolve));
    }
    const server = await listen(() => undefined, { host: '127.0.0.1', port: 0 });
    expect(server.listening).toBe(true);
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('checkDataDir', () => {
  it('creates a missing directory and refuses a path that is not a writable directory', () => {
    const scratch = fs.mkdtempSync(path.join(tmpdir(), 'fhir-datadir-'));
    try {
      const fresh = path.join(scratch, 'a', 'b');
      checkDataDir(fresh);
      expect(fs.statSync(fresh).isDirectory()).toBe(true);
      expect(fs.readdirSync(fresh)).toEqual([]);
      const file = path.join(scratch, 'file');
      fs.writeFileSync(file, '');
      expect(() => checkDataDir(file)).toThrow(new StartupError(`DATA_DIR ${file} is not a writable directory (EEXIST)`));
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});
