/**
 * Every fenced `sh` block of README.md and docs/*.md runs against a server started here (demo seed loaded), page
 * by page in one `bash -euo pipefail` each, with the variables of the README's "Conventions" defined: BASE, FHIR,
 * OAUTH, TOKEN, ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET, ADMIN_EMAIL, ADMIN_PASSWORD. A block that exits non-zero
 * fails its page's test with the page, the block's line and its output. Blocks preceded by
 * `<!-- docs-test: skip — reason -->` are left out (they need what this test does not have: Docker, MongoDB, a
 * stopped server, ...). The CLI is on PATH as `fhir-smart`.
 *
 * One server serves every page, in file order (README.md, then docs/ alphabetically), so examples must not depend
 * on another page's writes, and should write ids of their own (a PUT with a fixed id runs again unchanged). A page
 * containing the line `<!-- docs-test: own-server -->` runs on a server of its own, on a fresh store.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import path from 'node:path';
import { ROOT_DIR } from '../../src/paths';
import { CLI, ensureBuilt } from '../cli/cli-helpers';
import { type ServerProcess, serverToken, startServer } from '../helpers/server-process';
import { type ShBlock, curlsWithoutFail, describeFailure, extractShBlocks, runBlocks } from './doc-examples';

const ADMIN = {
  ADMIN_CLIENT_ID: 'admin-cli',
  ADMIN_CLIENT_SECRET: 'docs-admin-secret-0123456789',
  ADMIN_EMAIL: 'owner@example.org',
  ADMIN_PASSWORD: 'docs-owner-password',
};
/** Only ends a hung page; a page takes seconds. */
const PAGE_DEADLINE_MS = 150_000;

/** README.md and every docs/*.md, as paths relative to the project root. */
function pages(): string[] {
  const docs = fs
    .readdirSync(path.join(ROOT_DIR, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

const blocksByPage = new Map(pages().map((page) => [page, extractShBlocks(page, fs.readFileSync(path.join(ROOT_DIR, page), 'utf8'))]));
const runnable = (page: string): ShBlock[] => (blocksByPage.get(page) ?? []).filter((block) => block.skip === undefined);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

describe('the runner of the docs examples', () => {
  const cwd = os.tmpdir();
  const env = { PATH: process.env.PATH };

  it('extracts sh blocks (indented ones too), with their lines and skip reasons, and nothing else', () => {
    const text = [
      '# Page', // 1
      '```sh', // 2
      'echo one', // 3
      '```', // 4
      '```json', // 5
      '{}', // 6
      '```', // 7
      '1. a step', // 8
      '   ```sh', // 9
      '   echo two', // 10
      '     echo indented', // 11
      '   ```', // 12
      '<!-- docs-test: skip — needs Docker -->', // 13
      '```sh', // 14
      'docker compose up', // 15
      '```', // 16
    ].join('\n');
    expect(extractShBlocks('p.md', text)).toEqual([
      { page: 'p.md', line: 2, code: 'echo one' },
      { page: 'p.md', line: 9, code: 'echo two\n  echo indented' },
      { page: 'p.md', line: 14, code: 'docker compose up', skip: 'needs Docker' },
    ]);
    expect(() => extractShBlocks('p.md', '```sh\necho never closed\n')).toThrow('p.md:1');
    expect(() => extractShBlocks('p.md', '<!-- docs-test: skip -->\n```sh\necho\n```\n')).toThrow('reason');
  });

  it('runs blocks in order in one shell: a variable set by one block is seen by the next', async () => {
    const blocks: ShBlock[] = [
      { page: 'p.md', line: 3, code: 'GREETING=hello' },
      { page: 'p.md', line: 9, code: 'echo "$GREETING world"' },
    ];
    const run = await runBlocks(blocks, { cwd, env, deadlineMs: PAGE_DEADLINE_MS });
    expect(run.completed).toBe(true);
    expect(run.failed).toBeUndefined();
    expect(run.started).toHaveLength(2);
    expect(run.output[1]).toContain('hello world');
  });

  it.each([
    ['a command that fails', 'echo before; false; echo after'],
    ['a failing command in a pipeline', 'false | cat; echo after'],
    ['an unset variable', 'echo "$NOT_DEFINED_ANYWHERE"; echo after'],
    ['an early exit 0', 'echo before; exit 0'],
  ])('fails on %s, naming the page, the block line and its output', async (_what, code) => {
    const blocks: ShBlock[] = [
      { page: 'p.md', line: 3, code: 'echo first' },
      { page: 'p.md', line: 12, code },
      { page: 'p.md', line: 20, code: 'echo never' },
    ];
    const run = await runBlocks(blocks, { cwd, env, deadlineMs: PAGE_DEADLINE_MS });
    expect(run.completed).toBe(false);
    expect(run.failed).toBe(blocks[1]);
    expect(run.started).toHaveLength(2);
    expect(run.output.join('')).not.toContain('after');
    expect(run.output.join('')).not.toContain('never');
    const message = describeFailure(run);
    expect(message).toContain('p.md:');
    expect(message).toContain('line 12');
    expect(message).toContain(code);
    if (code.startsWith('echo before')) expect(message).toContain('before');
  });

  it('names the failing command and its line in the page', async () => {
    const blocks: ShBlock[] = [
      { page: 'p.md', line: 3, code: 'echo first' },
      { page: 'p.md', line: 12, code: 'echo one\nX=$(echo "$PATH" | grep -c no-such-directory-here)\necho after' },
    ];
    const run = await runBlocks(blocks, { cwd, env, deadlineMs: PAGE_DEADLINE_MS });
    expect(run.failed).toBe(blocks[1]);
    expect(run.failedCommand).toEqual({ text: 'X=$(echo "$PATH" | grep -c no-such-directory-here)', line: 14, status: 1 });
    expect(describeFailure(run)).toContain('p.md:14: `X=$(echo "$PATH" | grep -c no-such-directory-here)` exited with status 1');
    expect(run.output[1]).toContain('one');
    expect(run.output[1]).not.toContain('@@');
  });

  it('finds curl commands that would not fail on an HTTP error', () => {
    expect(curlsWithoutFail('curl -s "$FHIR/Patient"')).toHaveLength(1);
    expect(curlsWithoutFail('X=$(curl -s -H "A: b" \\\n  "$FHIR/Patient" | jq .id)')).toHaveLength(1);
    expect(curlsWithoutFail('curl -sf "$FHIR/Patient"')).toEqual([]);
    expect(curlsWithoutFail('curl -fsS "$FHIR/Patient"')).toEqual([]);
    expect(curlsWithoutFail('curl -s --fail-with-body \\\n  "$FHIR/Patient"')).toEqual([]);
    expect(curlsWithoutFail("test \"$(curl -s -o /dev/null -w '%{http_code}' $FHIR/x)\" = 403")).toEqual([]);
    expect(curlsWithoutFail("curl -s -o /dev/null -w '%{http_code}\\n' $FHIR/x   # 404")).toHaveLength(1);
    expect(curlsWithoutFail('# curl -s in a comment\necho curl')).toEqual([]);
  });
});

/** The working tree's changes (`git status --porcelain`): an example must not leave files in the repository. */
function workingTreeChanges(): string {
  return spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: ROOT_DIR, encoding: 'utf8' }).stdout;
}

/** The line that gives a page a server of its own (a fresh store), started for it and stopped after it. */
const OWN_SERVER_MARKER = '<!-- docs-test: own-server -->';
const needsOwnServer = (page: string): boolean => fs.readFileSync(path.join(ROOT_DIR, page), 'utf8').includes(OWN_SERVER_MARKER);

/** A server on a fresh store with the demo seed, whose PUBLIC_URL is the address the examples use. */
async function startDocsServer(): Promise<{ server: ServerProcess; dataDir: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-examples-data-'));
  // PUBLIC_URL (the token audience, the issuer) must name the port, so it is chosen first; another process taking
  // it in between fails the start, which is retried.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const server = await startServer({
        PORT: String(port),
        HOST: '127.0.0.1',
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        DATA_DIR: dataDir,
        SEED_DEMO: 'true',
        AUDIT: 'on',
        ...ADMIN,
      });
      return { server, dataDir };
    } catch (error) {
      if (attempt >= 3) {
        fs.rmSync(dataDir, { recursive: true, force: true });
        throw error;
      }
    }
  }
}

describe('the docs examples', () => {
  let shared: { server: ServerProcess; dataDir: string } | undefined;
  let binDir: string;

  beforeAll(async () => {
    binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-examples-bin-'));
    // The built CLI, what the package's `bin` runs (rebuilt first when src/ is newer than dist/).
    ensureBuilt();
    fs.writeFileSync(path.join(binDir, 'fhir-smart'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, { mode: 0o755 });
    if (pages().some((page) => runnable(page).length > 0 && !needsOwnServer(page))) shared = await startDocsServer();
  }, 600_000);

  afterAll(async () => {
    await shared?.server.stop();
    for (const dir of [shared?.dataDir, binDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the tools the examples use are installed (bash, curl, jq, openssl)', () => {
    const missing = ['bash', 'curl', 'jq', 'openssl'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
    expect(missing).toEqual([]);
  });

  it('the pages have examples that run: none is skipped without a reason, most of them run', () => {
    const all = [...blocksByPage.values()].flat();
    const running = all.filter((block) => block.skip === undefined);
    expect(runnable('README.md').length).toBeGreaterThanOrEqual(3);
    expect(running.length).toBeGreaterThanOrEqual(10);
    expect(running.length).toBeGreaterThan(all.length / 2);
  });

  it.each(pages())('%s: shell examples are fenced as sh (other shell fences would escape this test)', (page) => {
    const text = fs.readFileSync(path.join(ROOT_DIR, page), 'utf8');
    expect(text.split('\n').filter((line) => /^\s*```(bash|shell|console|zsh|shell-session)\s*$/.test(line))).toEqual([]);
  });

  it.each(pages())('%s: every curl of a running example fails on an HTTP error status', (page) => {
    const offending = runnable(page).flatMap((block) => curlsWithoutFail(block.code).map((curl) => `${page}:${block.line}: ${curl}`));
    expect(offending).toEqual([]);
  });

  it.each(pages())(
    '%s: every sh example runs',
    async (page) => {
      const blocks = runnable(page);
      if (blocks.length === 0) return;
      const own = needsOwnServer(page) ? await startDocsServer() : undefined;
      const server = (own ?? shared)?.server;
      if (!server) throw new Error('the server did not start');
      const configHome = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-examples-config-'));
      try {
        const base = server.baseUrl;
        const project = `${base}/w/default/default`;
        const env: NodeJS.ProcessEnv = {
          PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}`,
          HOME: process.env.HOME,
          LANG: 'C.UTF-8',
          XDG_CONFIG_HOME: configHome,
          BASE: base,
          FHIR: `${project}/api/v1/fhir/r4`,
          OAUTH: `${project}/api/v1/oauth`,
          TOKEN: await serverToken(base, ADMIN.ADMIN_CLIENT_ID, ADMIN.ADMIN_CLIENT_SECRET),
          ...ADMIN,
        };
        const before = workingTreeChanges();
        const run = await runBlocks(blocks, { cwd: ROOT_DIR, env, deadlineMs: PAGE_DEADLINE_MS });
        if (!run.completed) throw new Error(describeFailure(run));
        expect(run.started).toEqual(blocks);
        expect(workingTreeChanges()).toBe(before);
      } finally {
        fs.rmSync(configHome, { recursive: true, force: true });
        if (own) {
          await own.server.stop();
          fs.rmSync(own.dataDir, { recursive: true, force: true });
        }
      }
    },
    600_000,
  );
});
