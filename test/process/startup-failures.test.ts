/**
 * Start-up failures of the real server process (`dist/main.js`): each exits with status 1 and one line naming the
 * cause and the variable, prints no "listening" banner, and leaves no LOCK behind — so the next start succeeds.
 * MongoDB is tried against a closed loopback port; HOST binds the address asked for.
 */
import * as fs from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exitCode, failedStart, killLeftoverServers, spawnServer, startServer, waitForOutput } from '../helpers/server-process';

// Each test starts real server processes: generous on a loaded machine (the waits inside are event-driven).
jest.setTimeout(300_000);

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(tmpdir(), 'fhir-startup-'));
});
afterEach(killLeftoverServers);
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

function freshDataDir(name: string): string {
  return path.join(scratch, name);
}

/** A TCP server holding a port on every address, as another program would. */
async function occupyPort(): Promise<net.Server & { port: number }> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, resolve));
  return Object.assign(server, { port: (server.address() as net.AddressInfo).port });
}

/** A loopback port nobody listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = await occupyPort();
  await new Promise((resolve) => server.close(resolve));
  return server.port;
}

/** The lines a failed start printed on stderr that are not progress lines. */
function failureLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('Waiting for MongoDB'));
}

describe('start-up failures', () => {
  it('port in use: exit 1, "PORT n is already in use", no banner, LOCK released, and a second start succeeds', async () => {
    const dataDir = freshDataDir('port-in-use');
    const occupant = await occupyPort();
    try {
      const failed = await failedStart({ DATA_DIR: dataDir, PORT: String(occupant.port) });
      expect(failed.code).toBe(1);
      expect(failureLines(failed.stderr)).toEqual([`Start-up failed: PORT ${occupant.port} is already in use (HOST 0.0.0.0): stop the other process or choose another PORT`]);
      expect(failed.stdout).not.toContain('listening');
      // The store was opened (the journal exists) and closed again.
      expect(fs.existsSync(path.join(dataDir, 'journal.ndjson'))).toBe(true);
      expect(fs.existsSync(path.join(dataDir, 'LOCK'))).toBe(false);
    } finally {
      await new Promise((resolve) => occupant.close(resolve));
    }
    const second = await startServer({ DATA_DIR: dataDir, PORT: String(occupant.port) });
    expect(second.port).toBe(occupant.port);
    expect((await fetch(`${second.baseUrl}/readyz`)).status).toBe(200);
    expect(await second.stop()).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'LOCK'))).toBe(false);
  });

  it('DATA_DIR not a writable directory: exit 1 naming DATA_DIR', async () => {
    const file = path.join(scratch, 'a-file');
    fs.writeFileSync(file, 'not a directory');
    for (const dataDir of [file, path.join(file, 'below')]) {
      const failed = await failedStart({ DATA_DIR: dataDir });
      expect(failed.code).toBe(1);
      expect(failureLines(failed.stderr)).toEqual([expect.stringMatching(new RegExp(`^Start-up failed: DATA_DIR ${dataDir} is not a writable directory \\((ENOTDIR|EEXIST)\\)$`))]);
      expect(failed.stdout).not.toContain('listening');
    }
  });

  it('LOCK held by another live process: exit 1 naming DATA_DIR and the process; the lock stays its owner\'s', async () => {
    const dataDir = freshDataDir('locked');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    // This test's own process is alive and is not the server: it stands for another server on the directory.
    fs.writeFileSync(path.join(dataDir, 'LOCK'), `${process.pid}\n`, { mode: 0o600 });
    const failed = await failedStart({ DATA_DIR: dataDir });
    expect(failed.code).toBe(1);
    const [line, ...rest] = failureLines(failed.stderr);
    expect(rest).toEqual([]);
    expect(line).toMatch(new RegExp(`^Start-up failed: DATA_DIR \\S+ is in use by process ${process.pid} \\(its LOCK file\\)`));
    expect(fs.readFileSync(path.join(dataDir, 'LOCK'), 'utf8')).toBe(`${process.pid}\n`);
  });

  it('MongoDB not answering: progress lines, then exit 1 naming MONGODB_URI and MONGODB_CONNECT_TIMEOUT_MS, without credentials', async () => {
    const port = await closedPort();
    const failed = await failedStart({
      MONGODB_URI: `mongodb://fhir:s3cret-password@127.0.0.1:${port}/fhir?replicaSet=rs0`,
      // The first progress line is due at 2 s, before the 2.5 s timeout (timers fire in the order they are due).
      MONGODB_CONNECT_TIMEOUT_MS: '2500',
      DATA_DIR: freshDataDir('unused-by-mongo'),
    });
    expect(failed.code).toBe(1);
    const progress = failed.stderr.split('\n').filter((line) => line.startsWith('Waiting for MongoDB'));
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toMatch(new RegExp(`^Waiting for MongoDB at 127\\.0\\.0\\.1:${port} \\(MONGODB_URI\\): \\d+ s so far, giving up after 2\\.5 s \\(MONGODB_CONNECT_TIMEOUT_MS\\)$`));
    expect(failureLines(failed.stderr)).toEqual([`Start-up failed: MongoDB at 127.0.0.1:${port} (MONGODB_URI) did not answer within 2500 ms (MONGODB_CONNECT_TIMEOUT_MS)`]);
    expect(failed.stderr + failed.stdout).not.toContain('s3cret-password');
    expect(failed.stdout).not.toContain('listening');
  });
});

describe('signals during start-up', () => {
  it('SIGTERM while waiting for MongoDB ends the process at once with 143', async () => {
    const port = await closedPort();
    // A wait far longer than the test: only the signal can end it with 143 (giving up would exit with 1).
    const spawned = spawnServer({ MONGODB_URI: `mongodb://127.0.0.1:${port}/fhir?replicaSet=rs0`, MONGODB_CONNECT_TIMEOUT_MS: '600000' });
    await waitForOutput(spawned, /^Waiting for MongoDB/m, 'stderr');
    const exited = exitCode(spawned.child);
    spawned.child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(spawned.stdout()).not.toContain('listening');
  });
});

describe('HOST', () => {
  it('binds the address asked for, and names it in the banner', async () => {
    const server = await startServer({ DATA_DIR: freshDataDir('host'), HOST: '127.0.0.1' });
    expect(server.stdout()).toMatch(/listening on port \d+ \(HOST 127\.0\.0\.1; embedded store in /);
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    expect(await server.stop()).toBe(0);
  });
});
