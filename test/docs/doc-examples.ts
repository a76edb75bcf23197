/**
 * The shell examples of the documentation: extracting the fenced `sh` blocks of a Markdown page and running them,
 * in page order, in one `bash -euo pipefail` per page, so a block may set variables for the blocks after it.
 *
 * A block is skipped when the line right before its fence is `<!-- docs-test: skip — reason -->` (the reason is
 * required). Fences may be indented (a block inside a list item); the indentation is removed from its lines.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import path from 'node:path';

/** One fenced `sh` block of a page. */
export interface ShBlock {
  /** The page, as given to {@link extractShBlocks}. */
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The block's text, without the fences and the fence's indentation. */
  code: string;
  /** The reason given by a skip marker; undefined when the block runs. */
  skip?: string;
}

const FENCE_OPEN = /^(\s*)```sh\s*$/;
const FENCE_CLOSE = /^\s*```\s*$/;
const SKIP_MARKER = /^\s*<!--\s*docs-test:\s*skip\b\s*(?:[—–-]+\s*)?(.*?)\s*-->\s*$/;

/**
 * The `sh` blocks of a Markdown text.
 * @param page - the page's name, carried into each block
 * @param text - the Markdown
 * @returns the blocks in page order; throws on a fence that is never closed or a skip marker without a reason
 */
export function extractShBlocks(page: string, text: string): ShBlock[] {
  const lines = text.split('\n');
  const blocks: ShBlock[] = [];
  const at = (i: number): string => lines[i] ?? '';
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(at(i));
    if (!open) continue;
    const indent = (open[1] ?? '').length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !FENCE_CLOSE.test(at(j))) {
      const raw = at(j);
      body.push(raw.slice(0, indent).trim() === '' ? raw.slice(indent) : raw.trimStart());
      j++;
    }
    if (j >= lines.length) throw new Error(`${page}:${i + 1}: the sh block is never closed`);
    const marker = i > 0 ? SKIP_MARKER.exec(at(i - 1)) : null;
    const reason = marker?.[1];
    if (marker && !reason) throw new Error(`${page}:${i}: a docs-test skip marker must give a reason`);
    blocks.push({ page, line: i + 1, code: body.join('\n'), ...(reason ? { skip: reason } : {}) });
    i = j;
  }
  return blocks;
}

/**
 * The `curl` commands of a block that would not fail on an HTTP error status: an example must use `-f`,
 * `--fail` or `--fail-with-body`, or check the status itself (`test "$(curl -s -o /dev/null -w '%{http_code}' …)" = 404`),
 * so a failing request fails it.
 * @param code - the block's text
 * @returns the offending commands (continuation lines joined)
 */
export function curlsWithoutFail(code: string): string[] {
  const joined = code.replace(/\\\n/g, ' ');
  const found: string[] = [];
  for (const line of joined.split('\n')) {
    const text = line.replace(/^\s*#.*$/, '');
    // Each curl command on the line, up to the next pipe, ; or && (good enough for documentation examples).
    const re = /(?:^|[\s($|;&`])curl\s((?:[^|;&]|&&(?!\s))*)/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const args = m[1] ?? '';
      // A status written out is a check only when the shell compares it: `test "$(curl … -w '%{http_code}' …)" = 404`.
      const substituted = /\$\(\s*$/.test(text.slice(0, m.index + m[0].indexOf('curl')));
      const fails =
        /(?:^|\s)--fail(?:-with-body)?\b/.test(args) || /(?:^|\s)-[a-zA-Z]*f[a-zA-Z]*\b/.test(args) || (substituted && args.includes('%{http_code}'));
      if (!fails) found.push(`curl ${args.trim()}`);
    }
  }
  return found;
}

/** What running a page's blocks produced. */
export interface PageRun {
  /** bash's exit status (null when a signal or the deadline ended it). */
  code: number | null;
  /** The blocks that started, in order. */
  started: ShBlock[];
  /** True when every block ran to its end. */
  completed: boolean;
  /** Output (stdout and stderr, interleaved) of each started block, by index in `started`. */
  output: string[];
  /** The block that failed, when one did. */
  failed?: ShBlock;
  /** The failing command, as written (continuation lines joined), and its line in the page, when bash named it. */
  failedCommand?: { text: string; line: number; status: number };
}

const MARK = '@@docs-test-block@@';
const DONE = '@@docs-test-done@@';
const ERROR = '@@docs-test-error@@';

/**
 * Runs blocks in order in one `bash -euo pipefail`, stdout and stderr together.
 * @param blocks - the blocks to run (skipped ones must already be left out)
 * @param options - working directory, environment, and a deadline that only ends a hung run
 * @returns the run
 */
export async function runBlocks(
  blocks: ShBlock[],
  options: { cwd: string; env: NodeJS.ProcessEnv; deadlineMs: number },
): Promise<PageRun> {
  // The ERR trap names the failing command (unexpanded: no token in the report) and its line in the script, which
  // maps back to the page: each block's first line follows its marker line.
  const lines = ['exec 2>&1', `trap 'printf "\\n%s %d %d %s\\n" "${ERROR}" "$?" "$LINENO" "$BASH_COMMAND"' ERR`];
  const firstLine: number[] = [];
  blocks.forEach((block, i) => {
    lines.push(`printf '\\n%s %d\\n' '${MARK}' ${i}`);
    firstLine.push(lines.length + 1);
    lines.push(...block.code.split('\n'));
  });
  lines.push(`printf '\\n%s\\n' '${DONE}'`);
  const script = lines.join('\n');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-test-'));
  const file = path.join(dir, 'page.sh');
  fs.writeFileSync(file, script + '\n');
  try {
    const { code, text } = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const child = spawn('bash', ['-euo', 'pipefail', file], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.deadlineMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (exit) => {
        clearTimeout(timer);
        resolve({ code: exit, text: out });
      });
    });
    const parts = text.split(new RegExp(`\\n${MARK} (\\d+)\\n`));
    const started: ShBlock[] = [];
    const output: string[] = [];
    for (let i = 1; i < parts.length; i += 2) {
      const block = blocks[Number(parts[i])];
      if (!block) continue;
      started.push(block);
      output.push(parts[i + 1] ?? '');
    }
    const last = output.length - 1;
    const error = new RegExp(`\\n${ERROR} (\\d+) (\\d+) (.*)\\n`).exec(output[last] ?? '');
    let failedCommand: PageRun['failedCommand'];
    if (error && last >= 0) {
      const index = blocks.indexOf(started[last] as ShBlock);
      const block = blocks[index];
      const offset = Number(error[2]) - (firstLine[index] ?? 0);
      if (block) failedCommand = { text: error[3] ?? '', line: block.line + 1 + offset, status: Number(error[1]) };
      output[last] = (output[last] ?? '').replace(error[0], '\n');
    }
    const completed = code === 0 && output.length === blocks.length && output[last]?.includes(DONE) === true;
    if (last >= 0) output[last] = (output[last] ?? '').replace(`\n${DONE}\n`, '');
    if (blocks.length === 0) return { code, started, completed: code === 0, output };
    if (completed) return { code, started, completed, output };
    return { code, started, completed, output, failed: started[last] ?? blocks[0], ...(failedCommand ? { failedCommand } : {}) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A failure report: the page and line of the failed block, its text and its output.
 * @param run - the run
 * @returns the message
 */
export function describeFailure(run: PageRun): string {
  const failed = run.failed;
  if (!failed) return 'no block failed';
  const out = run.output[run.output.length - 1] ?? '';
  const command = run.failedCommand;
  return [
    command
      ? `${failed.page}:${command.line}: \`${command.text}\` exited with status ${String(command.status)} (the sh block of line ${failed.line})`
      : run.code === 0
        ? `${failed.page}:${failed.line}: the shell stopped (exit) in the sh block of line ${failed.line}; later blocks did not run`
        : `${failed.page}:${failed.line}: the sh block of line ${failed.line} exited with status ${String(run.code)}`,
    '--- block ---',
    failed.code,
    '--- output ---',
    out.length > 4000 ? `…${out.slice(-4000)}` : out,
  ].join('\n');
}
