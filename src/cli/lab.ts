// `postoffice lab`: two post offices on one machine, the story of one mail printed hop by hop,
// then a running lab to point mail clients at. `postoffice lab send` sends more from another
// terminal, through the running lab's dashboard API, and prints that mail's story.
import path from 'node:path';
import { createLogger } from '../log/log.js';
import { FAULT_NAMES } from '../lab/faults.js';
import { Lab, LabError, LAB_EXPIRE, LAB_RETRY, readLabFile, type JourneyState, type SendResult } from '../lab/lab.js';
import { Follower, follow, tellStory } from '../lab/first-mail.js';
import type { OfficeRow } from '../trace/journey.js';
import { journeyPath } from '../trace/story.js';

export const LAB_USAGE = `  lab [--dir DIR] [--http-port N] [--port-offset N] [--no-story]
                                               two post offices (163.test, sina.test), DNS and the dashboard
  lab send --from ADDR --to ADDR [--subject S] [--text T] [--fault NAME] [--dir DIR] [--timeout SECONDS]
                                               send through the running lab and print the journey
                                               faults: ${FAULT_NAMES.join(', ')}`;

/** Bad arguments: the caller prints usage and exits 2. */
export class LabUsage extends Error {}

function options(args: string[], spec: Record<string, 'value' | 'flag'>): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !spec[m[1]]) throw new LabUsage(`lab: unknown argument ${a}`);
    if (spec[m[1]] === 'flag') { out[m[1]] = true; continue; }
    const v = m[2] ?? args[++i];
    if (v === undefined) throw new LabUsage(`lab: --${m[1]} needs a value`);
    out[m[1]] = v;
  }
  return out;
}

function int(v: string | true | undefined, name: string, max = 65535): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) > max) throw new LabUsage(`lab: --${name} expects a number 0-${max}`);
  return Number(v);
}

export async function labCommand(args: string[]): Promise<number> {
  if (args[0] === 'send') return labSend(args.slice(1));
  const o = options(args, { dir: 'value', 'http-port': 'value', 'port-offset': 'value', 'no-story': 'flag' });
  const env = process.env;
  const dir = path.resolve(typeof o.dir === 'string' ? o.dir : 'lab');
  const httpPort = int(o['http-port'] ?? env.POSTOFFICE_LAB_HTTP_PORT, 'http-port');
  const portOffset = int(o['port-offset'] ?? env.POSTOFFICE_LAB_PORT_OFFSET, 'port-offset', 60000);
  const level = env.POSTOFFICE_LOG_LEVEL ?? 'warn';
  const log = createLogger(level);
  const print = (l: string) => process.stdout.write(l + '\n');

  print(`postoffice lab: two post offices on this machine, data in ${dir}`);
  const lab = await Lab.start({ dir, httpPort, portOffset, log, logLevel: level });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await lab.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  for (const off of lab.offices) print(`  ${off.domain.padEnd(10)} ${off.hostname} on ${off.ip}  (MX port ${off.ports.smtp}, user ${off.user})`);
  print(`  DNS        ${lab.dns.server}: MX, A, SPF, DKIM and DMARC of both (try: dig @${lab.dns.host} -p ${lab.dns.port} MX sina.test)`);
  print(`  relay      retries after ${LAB_RETRY.join(', ')}; gives up after ${LAB_EXPIRE}`);
  print('');
  if (!o['no-story']) {
    try {
      const story = await tellStory(lab, print);
      print('');
      print(`The path: ${journeyPath(story.state.rows)}`);
      print(`The journey in the dashboard: ${story.url}`);
    } catch (err) {
      print(`the story stopped: ${(err as Error).message}`);
    }
    print('');
  }
  print(clientHelp(lab));
  return -1; // keeps running
}

function clientHelp(lab: Lab): string {
  const l: string[] = ['The lab keeps running (Ctrl-C stops it). Point a mail client at either post office:'];
  for (const o of lab.offices) {
    const p = o.ports;
    l.push(`  ${o.domain}: login ${o.user}, password ${lab.secrets.password}`);
    l.push(`    send     SMTP ${o.ip} port ${p.submission} (STARTTLS) or ${p.smtps} (SSL/TLS), authentication: normal password`);
    l.push(`    receive  IMAP ${o.ip} port ${p.imaps} (SSL/TLS) or ${p.imap} (STARTTLS); POP3 ${o.ip} port ${p.pop3s} (SSL/TLS) or ${p.pop3} (STARTTLS)`);
  }
  l.push('  The certificates are self-signed: accept them once in the client.');
  l.push(`Dashboard: ${lab.url}  (sign in as ${lab.offices.map((o) => o.user).join(' or ')}, same password)`);
  l.push(`Send more from another terminal (password and token in ${path.join(lab.opts.dir, 'lab.json')}):`);
  l.push(`  npx postoffice lab send --from ${lab.offices[0].user} --to ${lab.offices[1].user} --subject hi --fault greylist`);
  l.push(`  faults: greylist, tempfail[:N], reject, slow[:N], tls-broken[:N], down[:SECONDS], null-mx, dns-servfail[:N]`);
  return l.join('\n');
}

interface JourneyReply extends JourneyState { rows: (OfficeRow & { sentence: string })[] }

async function labSend(args: string[]): Promise<number> {
  const o = options(args, { from: 'value', to: 'value', subject: 'value', text: 'value', fault: 'value', dir: 'value', timeout: 'value' });
  if (typeof o.from !== 'string' || typeof o.to !== 'string') throw new LabUsage('lab send: --from and --to are required');
  const dir = path.resolve(typeof o.dir === 'string' ? o.dir : 'lab');
  const timeoutS = int(o.timeout, 'timeout', 3600) ?? 180;
  const file = readLabFile(dir);
  if (!file?.url) throw new LabError(`no lab in ${dir}: start one first with \`npx postoffice lab${o.dir ? ` --dir ${o.dir}` : ''}\``);
  const print = (l: string) => process.stdout.write(l + '\n');
  const call = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(`${file.url}${p}`, {
        method, headers: { authorization: `Bearer ${file.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new LabError(`the lab in ${dir} does not answer at ${file.url} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}): is \`postoffice lab\` running?`);
    }
    const j = (await res.json().catch(() => ({}))) as T & { error?: string };
    if (!res.ok) throw new LabError(j.error ?? `the lab answered HTTP ${res.status}`);
    return j;
  };
  const sent = await call<SendResult>('POST', '/api/lab/send', {
    from: o.from, to: o.to, subject: typeof o.subject === 'string' ? o.subject : 'Hello through the lab',
    text: typeof o.text === 'string' ? o.text : 'Sent with postoffice lab send.\n', fault: typeof o.fault === 'string' ? o.fault : undefined,
  });
  print(`${o.from} -> ${o.to}: ${sent.reply}`);
  if (sent.fault) print(`fault ${o.fault}: ${sent.fault}`);
  print('');
  const f = new Follower(print);
  const r = await follow(() => call<JourneyReply>('GET', `/api/lab/journey/${encodeURIComponent(sent.msgId)}`), f, (s) => s.done, timeoutS * 1000);
  print('');
  // the message's own path (a bounce's rows, under the bounce's id at the sender's office, left out)
  const origin = r.state.rows[0];
  if (origin) print(`The path: ${journeyPath(r.state.rows.filter((x) => x.msgId === origin.msgId || x.office !== origin.office))}`);
  if (r.timedOut) print(`still ${r.state.outcome} after ${timeoutS} s (${r.state.attempts} attempt(s)); the lab goes on trying.`);
  else if (r.state.attempts === 0) print(`${r.state.outcome}: sender and recipient share a post office, so nothing was relayed.`);
  else print(`${r.state.outcome} after ${r.state.attempts} attempt(s).`);
  print(`The journey in the dashboard: ${sent.journeyUrl}`);
  return r.timedOut ? 1 : 0;
}
