/** Reading `--data`: inline JSON, `@file`, or `-` for stdin. */
import * as fs from 'node:fs';
import { usageError } from './errors';

/** Reads all of stdin. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The JSON value of a `--data` argument.
 * @param data - JSON text, `@path` or `-`
 * @returns the parsed value
 */
export async function readData(data: string | undefined): Promise<unknown> {
  if (data === undefined) throw usageError('--data is required (JSON, @file or - for stdin)');
  let text: string;
  let from: string;
  if (data === '-') {
    text = await readStdin();
    from = 'stdin';
  } else if (data.startsWith('@')) {
    from = data.slice(1);
    try {
      text = fs.readFileSync(from, 'utf8');
    } catch (err) {
      throw usageError(`cannot read ${from}: ${(err as Error).message}`);
    }
  } else {
    text = data;
    from = '--data';
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw usageError(`${from} is not JSON: ${(err as Error).message}`);
  }
}
