// `postoffice migrate-store --from sqlite:./data --to postgres://...`: a single-node installation
// copied into the PostgreSQL store several nodes share (the copying is store/migrate.ts). It
// shows progress, can be run again to continue or to catch up, and prints verified counts.
import type { Config } from '../config/config.js';
import { Progress } from '../move/progress.js';
import { MigrateError, migrateStore, type MigrateReport } from '../store/migrate.js';

export const MIGRATE_USAGE = `  migrate-store [--from sqlite:PATH] --to postgres://USER:PASSWORD@HOST:PORT/DB
                                               copy this SQLite store (default: the data dir's) into PostgreSQL for several nodes;
                                               run again to continue or catch up (nothing is copied twice)`;

export class MigrateUsage extends Error {}
export { MigrateError };

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new MigrateUsage(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}

/** The verified counts, one line per table, and the outcome. */
export function formatReport(r: MigrateReport): string {
  const w = Math.max(...r.counts.map((c) => c.table.length));
  const lines = [
    `${r.resumed ? 'continued' : 'copied'} ${r.source} -> ${r.target} in ${(r.ms / 1000).toFixed(1)} s (${r.blobsCopied} message bodies, ${(r.bytesCopied / 1e6).toFixed(1)} MB sent)`,
    `${'table'.padEnd(w)}  ${'sqlite'.padStart(10)}  ${'postgres'.padStart(10)}`,
    ...r.counts.map((c) => `${c.table.padEnd(w)}  ${String(c.source).padStart(10)}  ${String(c.target).padStart(10)}  ${c.ok ? 'ok' : 'DIFFERENT'}`),
  ];
  if (r.mismatched.length) lines.push(`mailboxes whose UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ/messages differ: ${r.mismatched.slice(0, 20).join(', ')}${r.mismatched.length > 20 ? ' ...' : ''}`);
  lines.push(r.ok ? 'verified: every count matches' : 'NOT verified: counts differ (was the server writing? run migrate-store again with it stopped)');
  return lines.join('\n') + '\n';
}

/** Runs the command; returns the exit status (0 verified, 1 counts differ). */
export async function migrateStoreCommand(config: Config, argv: string[]): Promise<number> {
  const args = [...argv];
  const from = option(args, '--from') ?? `sqlite:${config.dataDir}`;
  const to = option(args, '--to') ?? config.storeUrl ?? undefined;
  if (args.length) throw new MigrateUsage(`migrate-store: unexpected ${args.join(' ')}`);
  if (!to) throw new MigrateUsage('migrate-store: --to postgres://... is needed (or set POSTOFFICE_STORE_URL)');
  const bar = new Progress();
  let report: MigrateReport;
  try {
    report = await migrateStore({ from, to, progress: { phase: (label, total) => bar.folder(label, total), tick: (n, bytes) => bar.tick(n, bytes) } });
  } finally {
    bar.done();
  }
  process.stdout.write(formatReport(report));
  return report.ok ? 0 : 1;
}
