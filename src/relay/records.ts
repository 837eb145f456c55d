// The DNS records a domain needs so that the world's MTAs find us and trust our mail:
// MX (RFC 5321 §5.1), SPF (RFC 7208), DKIM (RFC 6376 §3.6.1), DMARC (RFC 7489),
// and client autoconfiguration: SRV (RFC 6186, RFC 8314), autoconfig/autodiscover names.
import type { Config } from '../config/config.js';
import { policyId, policyText, stsTxt } from '../mail/mta-sts.js';
import { dkimKey, dkimTxt, txtStrings } from './dkim.js';

export interface DnsRecordSpec { name: string; type: 'MX' | 'A' | 'TXT' | 'CNAME' | 'SRV'; value: string; comment?: string }

/** The records to publish for `domain`, with this server's name and DKIM key. */
export function recordsFor(config: Config, domain: string): DnsRecordSpec[] {
  const d = domain.toLowerCase();
  const host = config.hostname;
  const key = dkimKey(config.dataDir, d, config.dkimSelector);
  return [
    { name: d, type: 'MX', value: `10 ${host}.`, comment: 'mail for the domain goes to this server' },
    { name: host, type: 'A', value: '<public IPv4 of this server>', comment: 'and AAAA if it has IPv6; its PTR must name ' + host },
    { name: d, type: 'TXT', value: 'v=spf1 mx -all', comment: 'SPF: only the MX hosts send for the domain' },
    { name: `${config.dkimSelector}._domainkey.${d}`, type: 'TXT', value: dkimTxt(key.privateKey), comment: `DKIM public key (private key in ${key.file})` },
    { name: `_dmarc.${d}`, type: 'TXT', value: `v=DMARC1; p=quarantine; adkim=s; aspf=s; rua=mailto:postmaster@${d}`, comment: 'DMARC policy' },
    { name: `_submissions._tcp.${d}`, type: 'SRV', value: `0 1 465 ${host}.`, comment: 'RFC 8314 implicit-TLS submission' },
    { name: `_submission._tcp.${d}`, type: 'SRV', value: `0 1 587 ${host}.`, comment: 'RFC 6186 submission' },
    { name: `_imaps._tcp.${d}`, type: 'SRV', value: `0 1 993 ${host}.` },
    { name: `_imap._tcp.${d}`, type: 'SRV', value: `0 1 143 ${host}.` },
    { name: `_pop3s._tcp.${d}`, type: 'SRV', value: `0 1 995 ${host}.` },
    { name: `_pop3._tcp.${d}`, type: 'SRV', value: `10 1 110 ${host}.` },
    { name: `autoconfig.${d}`, type: 'CNAME', value: `${host}.`, comment: 'Thunderbird autoconfig' },
    { name: `autodiscover.${d}`, type: 'CNAME', value: `${host}.`, comment: 'Outlook autodiscover' },
    { name: `_autodiscover._tcp.${d}`, type: 'SRV', value: `0 1 443 ${host}.` },
    ...mtaStsRecords(config, d),
  ];
}

/** RFC 8461 §3.1 and RFC 8460 §3: MTA-STS (config mtaSts other than none) and where TLS reports go. */
function mtaStsRecords(config: Config, d: string): DnsRecordSpec[] {
  if (config.mtaSts === 'none') return [];
  const id = policyId(policyText({ mode: config.mtaSts, mx: [config.hostname], maxAge: config.mtaStsMaxAge }));
  return [
    { name: `mta-sts.${d}`, type: 'CNAME', value: `${config.hostname}.`, comment: `MTA-STS policy host: https://mta-sts.${d}/.well-known/mta-sts.txt (HTTPS on 443, a certificate naming mta-sts.${d}: ACME adds it)` },
    { name: `_mta-sts.${d}`, type: 'TXT', value: stsTxt(id), comment: `MTA-STS (RFC 8461): mode ${config.mtaSts}; the id changes with the policy` },
    { name: `_smtp._tls.${d}`, type: 'TXT', value: `v=TLSRPTv1; rua=mailto:postmaster@${d}`, comment: 'TLS-RPT (RFC 8460): where senders report TLS failures' },
  ];
}

/** Zone-file lines; TXT values split into quoted strings of at most 255 bytes. */
export function formatZone(records: DnsRecordSpec[]): string {
  const w = Math.max(...records.map((r) => r.name.length + 1));
  const lines: string[] = [];
  for (const r of records) {
    if (r.comment) lines.push(`; ${r.comment}`);
    const value = r.type === 'TXT'
      ? (() => { const parts = txtStrings(r.value).map((s) => `"${s.replace(/(["\\])/g, '\\$1')}"`); return parts.length > 1 ? `( ${parts.join('\n' + ' '.repeat(w + 16))} )` : parts[0]; })()
      : r.value;
    lines.push(`${(r.name + '.').padEnd(w)}  3600  IN  ${r.type.padEnd(5)}  ${value}`);
  }
  return lines.join('\n') + '\n';
}
