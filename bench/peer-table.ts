/**
 * The head-to-head table: scenario / this server / peer / ratio / goal, with CPU ms per request beside req/s.
 */
import type { PeerRow } from './head-to-head';

export function fmtRate(perSecond: number): string {
  return perSecond < 10 ? perSecond.toFixed(2) : perSecond.toFixed(0);
}

export function fmtCpu(ms: number | null): string {
  return ms === null ? '?' : ms.toFixed(3);
}

export function fmtRatio(ratio: number | null): string {
  return ratio === null ? '?' : ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(2);
}

function describe(row: PeerRow): string {
  const problems: string[] = [];
  if (row.goal !== null && (row.ratio === null || row.ratio < row.goal)) problems.push('ratio too low');
  if (row.server.non2xx + row.server.errors > 0) problems.push(`${row.server.non2xx + row.server.errors} non-2xx/errors`);
  if (row.tokenCheck && !row.tokenCheck.ok) problems.push('issued tokens failed introspection/revocation');
  const goal = row.goal === null ? 'report only' : `≥ ${row.goal.toFixed(1)}×`;
  const peerFailures = row.peerFigures.non2xx + row.peerFigures.errors;
  const extra = peerFailures > 0 ? ` [peer: ${peerFailures} non-2xx/errors]` : '';
  if (row.goal === null && problems.length === 0) return `${goal}${extra}`;
  return problems.length === 0 ? `OK (${goal})${extra}` : `MISS: ${problems.join(', ')} (${goal})${extra}`;
}

/**
 * Formats the head-to-head table: scenario / this server / peer / ratio / goal, CPU ms per request beside req/s.
 *
 * @param rows - the rows
 * @returns the table
 */
export function formatPeerTable(rows: readonly PeerRow[]): string {
  const header = ['scenario', 'server req/s', 'cpu ms/req', 'p99 ms', 'peer', 'req/s', 'cpu ms/req', 'p99 ms', 'ratio', 'cpu ratio', 'goal'];
  const lines: string[][] = [header];
  for (const row of rows) {
    lines.push([
      row.scenario,
      fmtRate(row.server.reqPerSec),
      fmtCpu(row.server.cpuMsPerRequest),
      row.server.p99Ms.toFixed(2),
      row.peer,
      fmtRate(row.peerFigures.reqPerSec),
      fmtCpu(row.peerFigures.cpuMsPerRequest),
      row.peerFigures.p99Ms.toFixed(2),
      fmtRatio(row.ratio),
      fmtRatio(row.cpuRatio),
      describe(row),
    ]);
  }
  const widths = header.map((_, col) => Math.max(...lines.map((line) => (line[col] ?? '').length)));
  const left = new Set([0, 4, 10]);
  const table = lines
    .map((line) => line.map((cell, col) => (left.has(col) ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  ').trimEnd())
    .join('\n');
  const notes = rows.filter((r) => r.note).map((r) => `${r.scenario}: ${r.note}`);
  return notes.length > 0 ? `${table}\n${notes.join('\n')}` : table;
}
