// `postoffice doctor`: checks what decides whether the world accepts our mail and can send us
// mail, each finding one line with what to do: outbound port 25, PTR of our address vs our
// hostname (FCrDNS), MX / SPF / DKIM / DMARC as published vs expected, the TLS certificate.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../config/config.js';
import { parseStsTxt, policyId, policyText, stsTxt } from '../mail/mta-sts.js';
import { dkimKey, dkimTxt } from './dkim.js';
import { Resolver } from './mx.js';

export type Level = 'ok' | 'warn' | 'fail';
export interface Finding { level: Level; check: string; message: string }

export interface DoctorOptions {
  domains: string[];
  resolver?: Resolver;
  /** host:port whose SMTP port is tried to see if outbound port 25 is open (default: gmail.com's MX on 25) */
  probe?: string | null;
  probeTimeoutMs?: number;
  now?: number;
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<{ ok: boolean; banner?: string; error?: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (r: { ok: boolean; banner?: string; error?: string }) => { clearTimeout(timer); s.destroy(); resolve(r); };
    const timer = setTimeout(() => done({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    s.once('data', (d) => done({ ok: true, banner: d.toString('latin1').split('\r\n')[0].slice(0, 120) }));
    s.once('error', (err) => done({ ok: false, error: err.message }));
  });
}

function reverseName(ip: string): string | null {
  if (net.isIPv4(ip)) return ip.split('.').reverse().join('.') + '.in-addr.arpa';
  return null;
}

export async function doctor(config: Config, opts: DoctorOptions): Promise<Finding[]> {
  const r = opts.resolver ?? new Resolver({ servers: config.dnsServers, timeoutMs: 3000 });
  const out: Finding[] = [];
  const add = (level: Level, check: string, message: string) => out.push({ level, check, message });
  const host = config.hostname;
  const txt = async (name: string) => (await r.query(name, 'TXT')).answers.map((a) => a.data);

  // our own name and address
  const a = await r.query(host, 'A');
  const ips = a.answers.map((x) => x.data);
  if (!ips.length) add('fail', 'A', `${host} has no A record (${a.rcode}): publish the public IPv4 of this server for ${host}`);
  else add('ok', 'A', `${host} -> ${ips.join(', ')}`);

  // PTR: receivers check forward-confirmed reverse DNS
  for (const ip of ips) {
    const rev = reverseName(ip);
    if (!rev) continue;
    const ptr = (await r.query(rev, 'PTR')).answers.map((x) => x.data.replace(/\.$/, '').toLowerCase());
    if (!ptr.length) add('fail', 'PTR', `${ip} has no PTR record: ask your hosting provider to set the reverse DNS of ${ip} to ${host}`);
    else if (!ptr.includes(host.toLowerCase())) add('fail', 'PTR', `${ip} reverses to ${ptr.join(', ')}, not ${host}: set the PTR of ${ip} to ${host} (or set POSTOFFICE_HOSTNAME to ${ptr[0]})`);
    else add('ok', 'PTR', `${ip} <- ${host}`);
  }

  for (const domain of opts.domains) {
    const d = domain.toLowerCase();
    // MX
    const mx = await r.query(d, 'MX');
    const mxHosts = mx.answers.map((x) => x.data.replace(/\.$/, '').toLowerCase());
    if (!mxHosts.length) add('fail', 'MX', `${d} has no MX record (${mx.rcode}): publish "${d}. MX 10 ${host}."`);
    else if (!mxHosts.includes(host.toLowerCase())) add('warn', 'MX', `${d} MX is ${mxHosts.join(', ')}, not ${host}: mail for ${d} goes elsewhere; publish "${d}. MX 10 ${host}." if this server should receive it`);
    else add('ok', 'MX', `${d} -> ${host}`);

    // SPF (RFC 7208 §4.5: exactly one v=spf1 record)
    const spf = (await txt(d)).filter((t) => /^v=spf1(\s|$)/i.test(t));
    if (!spf.length) add('fail', 'SPF', `${d} has no SPF record: publish "${d}. TXT \\"v=spf1 mx -all\\""`);
    else if (spf.length > 1) add('fail', 'SPF', `${d} has ${spf.length} SPF records (a permerror): merge them into one`);
    else if (!/\bmx\b|\ba\b|ip4:|include:/i.test(spf[0])) add('warn', 'SPF', `${d} SPF "${spf[0]}" names no sender: add "mx" so this server may send`);
    else add('ok', 'SPF', `${d} "${spf[0]}"`);

    // DKIM: the published key must be ours
    const want = dkimTxt(dkimKey(config.dataDir, d, config.dkimSelector).privateKey);
    const name = `${config.dkimSelector}._domainkey.${d}`;
    const got = (await txt(name)).map((t) => t.replace(/\s+/g, ''));
    const p = (s: string) => /(?:^|;)p=([^;]*)/.exec(s.replace(/\s+/g, ''))?.[1] ?? '';
    if (!got.length) add('fail', 'DKIM', `${name} has no TXT record: publish the DKIM key (postoffice dns ${d})`);
    else if (!got.some((g) => p(g) === p(want))) add('fail', 'DKIM', `${name} publishes a different key than ours: replace it with the one from "postoffice dns ${d}"`);
    else add('ok', 'DKIM', `${name} matches our key`);

    // DMARC
    const dmarc = (await txt(`_dmarc.${d}`)).filter((t) => /^v=DMARC1/i.test(t));
    if (!dmarc.length) add('warn', 'DMARC', `_dmarc.${d} has no DMARC record: publish "_dmarc.${d}. TXT \\"v=DMARC1; p=quarantine; rua=mailto:postmaster@${d}\\""`);
    else if (/p=none/i.test(dmarc[0])) add('warn', 'DMARC', `_dmarc.${d} policy is p=none: once reports look clean, raise it to p=quarantine`);
    else add('ok', 'DMARC', `_dmarc.${d} "${dmarc[0]}"`);

    // MTA-STS (RFC 8461 §3.1): the TXT record must carry the id of the policy we serve
    if (config.mtaSts !== 'none') {
      const id = policyId(policyText({ mode: config.mtaSts, mx: [host], maxAge: config.mtaStsMaxAge }));
      const sts = (await txt(`_mta-sts.${d}`)).filter((t) => /^v=STSv1/.test(t));
      const polHost = await r.query(`mta-sts.${d}`, 'A');
      if (!sts.length) add('fail', 'MTA-STS', `_mta-sts.${d} has no TXT record: publish "_mta-sts.${d}. TXT \\"${stsTxt(id)}\\"" (postoffice dns ${d})`);
      else if (parseStsTxt(sts[0]) !== id) add('warn', 'MTA-STS', `_mta-sts.${d} says "${sts[0]}", but our policy's id is ${id}: publish "${stsTxt(id)}" so senders fetch the current policy`);
      else if (!polHost.answers.length) add('fail', 'MTA-STS', `mta-sts.${d} has no address (${polHost.rcode}): publish "mta-sts.${d}. CNAME ${host}." and serve HTTPS on 443 (ports.https)`);
      else if (!config.ports.https) add('warn', 'MTA-STS', `the policy is served over HTTP only (ports.https is 0): senders fetch https://mta-sts.${d}/.well-known/mta-sts.txt on 443; set POSTOFFICE_HTTPS_PORT=443 or terminate TLS in a proxy`);
      else add('ok', 'MTA-STS', `_mta-sts.${d} "${sts[0]}" (mode ${config.mtaSts})`);
    }
  }

  // the certificate the listeners present
  // (with ACME on: its certificate once one arrived, else the self-signed one still serving)
  const acmeCert = path.join(config.dataDir, 'acme', 'cert.pem');
  const certFile = config.tlsCert ?? (config.acme && existsSync(acmeCert) ? acmeCert : path.join(config.dataDir, 'tls', 'cert.pem'));
  if (config.acme && !existsSync(acmeCert)) add('warn', 'TLS', `ACME is on but no certificate has arrived yet (${acmeCert}): the self-signed one serves meanwhile; the server log's ACME_FAILED lines say what to fix (DNS, port 80 or 443, rate limit)`);
  if (!existsSync(certFile)) add('warn', 'TLS', `no certificate yet (${certFile}): start the server once, or set POSTOFFICE_TLS_CERT/_KEY`);
  else {
    try {
      const x = new X509Certificate(readFileSync(certFile));
      const now = opts.now ?? Date.now();
      const left = Math.floor((Date.parse(x.validTo) - now) / 86_400_000);
      const selfSigned = x.checkIssued(x);
      if (left < 0) add('fail', 'TLS', `the certificate expired on ${x.validTo}: renew it`);
      else if (left < 14) add('warn', 'TLS', `the certificate expires in ${left} day(s) (${x.validTo}): ${config.acme && certFile === acmeCert ? 'ACME renewal is failing: the server log\'s ACME_FAILED lines say why' : 'renew it'}`);
      if (!x.checkHost(host)) add('fail', 'TLS', `the certificate does not name ${host} (${x.subjectAltName ?? x.subject}): get one for ${host}`);
      if (selfSigned) add('warn', 'TLS', `the certificate is self-signed: fine for opportunistic STARTTLS between MTAs, but mail clients will complain; set POSTOFFICE_ACME=1 (Let's Encrypt) or POSTOFFICE_TLS_CERT/_KEY to a CA-issued one`);
      if (left >= 14 && x.checkHost(host) && !selfSigned) add('ok', 'TLS', `certificate for ${host} valid until ${x.validTo}`);
    } catch (err) {
      add('fail', 'TLS', `cannot read the certificate ${certFile}: ${(err as Error).message}`);
    }
  }

  // outbound port 25: many networks block it
  if (opts.probe !== null) {
    let target = opts.probe ?? null;
    if (!target) {
      const g = await r.findTargets('gmail.com');
      target = g.kind === 'hosts' ? `${g.hosts[0].addresses[0]}:25` : null;
    }
    if (!target) add('warn', 'port 25', 'could not find a host to test outbound port 25 with (DNS?)');
    else {
      const [h, p] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
      const res = await tcpProbe(h, p, opts.probeTimeoutMs ?? 5000);
      if (res.ok && res.banner?.startsWith('220')) add('ok', 'port 25', `outbound SMTP works (${target}: ${res.banner})`);
      else if (res.ok) add('warn', 'port 25', `${target} answered "${res.banner}" instead of 220`);
      else add('fail', 'port 25', `cannot reach ${target} (${res.error}): outbound port 25 seems blocked; ask your provider to open it or set POSTOFFICE_SMARTHOST`);
    }
  }
  return out;
}

export function formatFindings(f: Finding[]): string {
  const tag = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };
  return f.map((x) => `${tag[x.level]}  ${x.check.padEnd(8)} ${x.message}`).join('\n') + '\n';
}
