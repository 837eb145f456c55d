#!/usr/bin/env node
// `postoffice` command line: serve, domain, user, alias, queue, trace (see INTERFACE.md).
// Bad arguments: a usage line and exit 2. Errors: one line on stderr and exit 1.
import { readFileSync } from 'node:fs';
import { hashPassword } from '../auth/password.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { InternalError } from '../mail/errors.js';
import { openToolStore, StoreError, type Store } from '../store/index.js';
import { formatTrace } from '../trace/format.js';
import { LabError } from '../lab/lab.js';
import { LAB_USAGE, LabUsage, labCommand } from './lab.js';
import { LimitsUsage, userLimitsCommand } from './limits-command.js';
import { MOVE_COMMANDS, MOVE_USAGE, MoveError, MoveUsage, moveCommand } from './move-commands.js';
import { MIGRATE_USAGE, MigrateError, MigrateUsage, migrateStoreCommand } from './migrate-store.js';
import { dnsCommand, doctorCommand } from './relay-commands.js';
import { serve } from './serve.js';

const USAGE = `usage: postoffice <command>
  serve
  domain add|del DOMAIN  /  domain list
  user add ADDRESS (--password PW | --password-stdin) [--admin]
  user del ADDRESS  /  user list [DOMAIN]
  user admin ADDRESS on|off                    may sign in to the dashboard's admin pages
  user passwd ADDRESS (--password PW | --password-stdin)
  user limits ADDRESS [--reset]                what the user submitted in the last hour/day against the limits
  alias add FROM TO  /  alias del FROM [TO]  /  alias list
  queue list  /  queue flush  /  queue del ID
  trace ID
  dns DOMAIN                                   the DNS records to publish (MX, SPF, DKIM, DMARC, SRV)
  doctor [DOMAIN] [--probe HOST:PORT | --no-probe]   check DNS, PTR, TLS, outbound port 25
${MOVE_USAGE}
${MIGRATE_USAGE}
${LAB_USAGE}`;

class UsageError extends Error {}

function usage(why?: string): never {
  throw new UsageError(why ? `${why}\n${USAGE}` : USAGE);
}

function readPassword(args: string[]): string {
  const i = args.indexOf('--password');
  if (i >= 0) {
    const pw = args[i + 1];
    if (pw === undefined) usage('--password needs a value');
    args.splice(i, 2);
    return pw;
  }
  const j = args.indexOf('--password-stdin');
  if (j >= 0) {
    args.splice(j, 1);
    const pw = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    return pw;
  }
  usage('give the password with --password PW or --password-stdin');
}

function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ')).join('\n') + '\n';
}

const iso = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

async function admin(store: Store, cmd: string, sub: string | undefined, args: string[]): Promise<string> {
  const need = (n: number, what: string) => { if (args.length !== n) usage(`${cmd} ${sub}: expected ${what}`); };
  switch (cmd === 'trace' ? 'trace' : `${cmd} ${sub ?? ''}`.trim()) {
    case 'domain add': need(1, 'DOMAIN'); return (await store.domains.add(args[0])) ? `added domain ${args[0].toLowerCase()}\n` : `domain ${args[0].toLowerCase()} exists already\n`;
    case 'domain del': need(1, 'DOMAIN'); if (!(await store.domains.del(args[0]))) throw new StoreError('notfound', `no such domain: ${args[0]}`); return `deleted domain ${args[0]}\n`;
    case 'domain list': need(0, 'no arguments'); return table((await store.domains.list()).map((d) => [d.name, `${d.users} user(s)`]));
    case 'user add': {
      const adminAt = args.indexOf('--admin');
      if (adminAt >= 0) args.splice(adminAt, 1);
      const pw = readPassword(args); need(1, 'ADDRESS');
      if (!pw) throw new StoreError('invalid', 'the password is empty');
      const u = await store.users.add(args[0], await hashPassword(pw));
      if (adminAt >= 0) await store.users.setAdmin(u.address, true);
      return `added ${adminAt >= 0 ? 'admin' : 'user'} ${u.address} (mailboxes INBOX, Sent, Drafts, Trash, Junk, Archive)\n`;
    }
    case 'user admin': {
      need(2, 'ADDRESS on|off');
      const on = args[1].toLowerCase();
      if (on !== 'on' && on !== 'off') usage('user admin: expected ADDRESS on|off');
      if (!(await store.users.setAdmin(args[0].toLowerCase(), on === 'on'))) throw new StoreError('notfound', `no such user: ${args[0]}`);
      return `${args[0].toLowerCase()} ${on === 'on' ? 'is an admin now' : 'is no longer an admin'}\n`;
    }
    case 'user del': need(1, 'ADDRESS'); if (!(await store.users.del(args[0].toLowerCase()))) throw new StoreError('notfound', `no such user: ${args[0]}`); return `deleted user ${args[0].toLowerCase()}\n`;
    case 'user list': {
      if (args.length > 1) usage('user list: expected [DOMAIN]');
      const users = await store.users.list(args[0]);
      const rows: string[][] = [];
      for (const u of users) {
        const use = await store.users.usage(u.id);
        rows.push([u.address, `${use.messages} message(s)`, `${(use.bytes / 1024).toFixed(1)} KiB`, ...(u.admin ? ['admin'] : [])]);
      }
      return table(rows);
    }
    case 'user passwd': {
      const pw = readPassword(args); need(1, 'ADDRESS');
      if (!pw) throw new StoreError('invalid', 'the password is empty');
      if (!(await store.users.setPassword(args[0].toLowerCase(), await hashPassword(pw)))) throw new StoreError('notfound', `no such user: ${args[0]}`);
      return `password changed for ${args[0].toLowerCase()}\n`;
    }
    case 'alias add': need(2, 'FROM TO'); return (await store.aliases.add(args[0], args[1])) ? `added alias ${args[0].toLowerCase()} -> ${args[1].toLowerCase()}\n` : `alias exists already\n`;
    case 'alias del': {
      if (args.length < 1 || args.length > 2) usage('alias del: expected FROM [TO]');
      const n = await store.aliases.del(args[0].toLowerCase(), args[1]?.toLowerCase());
      if (!n) throw new StoreError('notfound', `no such alias: ${args.join(' ')}`);
      return `deleted ${n} alias(es)\n`;
    }
    case 'alias list': need(0, 'no arguments'); return table((await store.aliases.list()).map((a) => [a.source, '->', a.target]));
    case 'queue list': {
      need(0, 'no arguments');
      const q = await store.queue.list();
      if (q.length === 0) return 'queue is empty\n';
      // NODE: the node delivering it now (several nodes on one store: its queue lease)
      const now = Date.now();
      return table([['ID', 'MSG', 'FROM', 'TO', 'SIZE', 'TRIES', 'NEXT', 'NODE', 'LAST REPLY'],
        ...q.map((e) => [String(e.id), e.msgId, `<${e.mailFrom}>`, e.rcpts.filter((r) => r.status === 'pending').map((r) => r.address).join(','),
          String(e.size), String(e.attempts), iso(e.nextAttempt), e.leaseNode && (e.leaseUntil ?? 0) > now ? e.leaseNode : '-', e.lastReply ?? '-'])]);
    }
    case 'queue flush': need(0, 'no arguments'); return `${await store.queue.flush()} queue entr(ies) due now\n`;
    case 'queue del': {
      need(1, 'ID');
      if (!/^\d+$/.test(args[0])) usage('queue del: ID is a number (see queue list)');
      if (!(await store.queue.del(Number(args[0])))) throw new StoreError('notfound', `no queue entry ${args[0]}`);
      return `deleted queue entry ${args[0]}\n`;
    }
    case 'trace': {
      const id = sub;
      if (!id || args.length) usage('trace: expected ID (our id or the Message-ID)');
      const rows = await store.journey.trace(id);
      if (rows.length === 0) throw new StoreError('notfound', `no journey for ${id}`);
      return formatTrace(rows) + '\n';
    }
  }
  usage(`unknown command: ${[cmd, sub].filter(Boolean).join(' ')}`);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, sub, ...args] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') usage();
  if (!['serve', 'domain', 'user', 'alias', 'queue', 'trace', 'dns', 'doctor', 'lab', 'migrate-store', ...MOVE_COMMANDS].includes(cmd)) usage(`unknown command: ${cmd}`);
  // the lab assembles its own two post offices (and their configs) under its own data dir
  if (cmd === 'lab') {
    try {
      return await labCommand([sub, ...args].filter((x): x is string => x !== undefined));
    } catch (err) {
      if (err instanceof LabUsage) usage(err.message);
      throw err;
    }
  }
  const config: Config = loadConfig();
  if (cmd === 'serve') {
    if (sub) usage('serve takes no arguments');
    await serve(config);
    return -1; // keeps running
  }
  if (cmd === 'migrate-store') {
    try {
      return await migrateStoreCommand(config, [sub, ...args].filter((x): x is string => x !== undefined));
    } catch (err) {
      if (err instanceof MigrateUsage) usage(err.message);
      throw err;
    }
  }
  if (MOVE_COMMANDS.includes(cmd)) {
    try {
      return await moveCommand(config, cmd, [sub, ...args].filter((x): x is string => x !== undefined), () => readFileSync(0, 'utf8').replace(/\r?\n$/, ''));
    } catch (err) {
      if (err instanceof MoveUsage) usage(err.message);
      throw err;
    }
  }
  if (cmd !== 'trace' && cmd !== 'doctor' && !sub) usage(cmd === 'dns' ? 'dns: expected DOMAIN' : `${cmd}: missing subcommand`);
  // the server's store: the SQLite file in dataDir, or the PostgreSQL database of storeUrl
  const store = await openToolStore(config.dataDir, { storeUrl: config.storeUrl });
  try {
    // config domains exist for the CLI as for the server
    for (const d of config.domains) await store.domains.add(d);
    if (cmd === 'dns') {
      if (args.length) usage('dns: expected DOMAIN');
      process.stdout.write(await dnsCommand(config, store, sub!));
      return 0;
    }
    if (cmd === 'doctor') {
      const r = await doctorCommand(config, store, [sub, ...args].filter((x): x is string => !!x));
      process.stdout.write(r.text);
      return r.failed ? 1 : 0;
    }
    if (cmd === 'user' && sub === 'limits') {
      try {
        process.stdout.write(await userLimitsCommand(config, store, args));
      } catch (err) {
        if (err instanceof LimitsUsage) usage(err.message);
        throw err;
      }
      return 0;
    }
    process.stdout.write(await admin(store, cmd, sub, args));
    return 0;
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => { if (code >= 0) process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) { process.stderr.write(err.message + '\n'); process.exitCode = 2; return; }
    const known = err instanceof StoreError || err instanceof ConfigError || err instanceof InternalError || err instanceof LabError || err instanceof MoveError || err instanceof MigrateError;
    process.stderr.write(`postoffice: ${known ? (err as Error).message : `internal error: ${(err as Error)?.stack ?? String(err)}`}\n`.split('\n')[0] + '\n');
    process.exitCode = 1;
  },
);
