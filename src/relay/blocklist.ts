// MTA out: a refusal that names a blocklist (a DNSBL or a provider's own block list) means our
// server's address has a reputation problem, not that the recipient is wrong: the sender and the
// operator must learn which list and where to ask for delisting. A small table of the patterns the
// big receivers use in their replies (RFC 5321 §4.2: the text after the code is free-form, so this
// can only ever be a recognition of known wordings) -> the list's name and its delisting page.

import { metrics } from '../log/metrics.js';

export interface BlocklistHit {
  /** the list's name as a human would search for it */
  list: string;
  /** who runs it, from a fixed set (a metrics label: remote text never becomes one); 'other' for an unknown zone */
  provider: string;
  /** where to look the address up and ask for removal */
  delist: string;
}

interface Pattern { re: RegExp; provider: string | ((m: RegExpExecArray) => string); list: string | ((m: RegExpExecArray) => string); delist: string | ((m: RegExpExecArray) => string) }

/** DNSBL zones seen in "blocked using <zone>" / "listed in <zone>" replies -> name and delisting page. */
const ZONES: [RegExp, string, string][] = [
  [/spamhaus\.org$/i, 'Spamhaus', 'https://check.spamhaus.org/'],
  [/barracudacentral\.org$/i, 'Barracuda', 'https://www.barracudacentral.org/rbl/removal-request'],
  [/spamcop\.net$/i, 'SpamCop', 'https://www.spamcop.net/bl.shtml'],
  [/uceprotect\.net$/i, 'UCEPROTECT', 'https://www.uceprotect.net/en/rblcheck.php'],
  [/mailspike\.net$/i, 'Mailspike', 'https://mailspike.org/iplookup.html'],
  [/psbl\.surriel\.com$/i, 'PSBL', 'https://psbl.org/'],
  [/manitu\.net$/i, 'NiX Spam', 'https://www.dnsbl.manitu.net/'],
  [/spameatingmonkey\.net$/i, 'Spam Eating Monkey', 'https://spameatingmonkey.com/'],
  [/s5h\.net$/i, 's5h.net', 'https://www.s5h.net/'],
];

function zone(name: string): BlocklistHit {
  const z = name.toLowerCase().replace(/[.;,:)\]]+$/, '');
  for (const [re, provider, delist] of ZONES) {
    if (re.test(z)) return { provider, list: `${provider === 'Barracuda' ? 'Barracuda Reputation Block List' : provider} (${z})`, delist };
  }
  return { provider: 'other', list: z, delist: `the removal page of ${z} (look the server's address up at https://mxtoolbox.com/blacklists.aspx)` };
}

/** Most specific first: the provider's own wording, then the generic DNSBL phrasings. */
const PATTERNS: Pattern[] = [
  // Outlook.com / Hotmail: "... part of their network is on our block list (S3140)", "(S3150)", "(S3113)", "(S3114)", "(S775)"
  { re: /\((S3140|S3150|S3113|S3114|S775)\)/i, provider: 'Microsoft', list: (m) => `Microsoft Outlook.com block list (${m[1].toUpperCase()})`, delist: 'https://olcsupport.office.com/ (Outlook.com sender support; see also https://sendersupport.olc.protection.outlook.com/snds/)' },
  // Microsoft 365 / Exchange Online: "5.7.606-649 Access denied, banned sending IP"
  { re: /5\.7\.6(0[6-9]|[1-4]\d)\b.*banned sending IP|banned sending IP.*5\.7\.6(0[6-9]|[1-4]\d)\b/i, provider: 'Microsoft', list: 'Microsoft 365 banned sender list', delist: 'https://sender.office.com/' },
  // Spamhaus names itself and usually the zone ("https://www.spamhaus.org/query/ip/..."; "listed in zen.spamhaus.org")
  { re: /\b((?:zen|sbl|xbl|pbl|css|sbl-xbl|dbl|authbl)\.spamhaus\.org)\b/i, provider: 'Spamhaus', list: (m) => `Spamhaus (${m[1].toLowerCase()})`, delist: 'https://check.spamhaus.org/' },
  { re: /spamhaus/i, provider: 'Spamhaus', list: 'Spamhaus', delist: 'https://check.spamhaus.org/' },
  // Barracuda: "blocked using Barracuda Reputation", "http://www.barracudanetworks.com/reputation/?pr=1&ip=..."
  { re: /barracuda(central|networks)?/i, provider: 'Barracuda', list: 'Barracuda Reputation Block List', delist: 'https://www.barracudacentral.org/rbl/removal-request' },
  { re: /spamcop/i, provider: 'SpamCop', list: 'SpamCop', delist: 'https://www.spamcop.net/bl.shtml' },
  // Proofpoint: "... blocked ... see https://ipcheck.proofpoint.com/?ip=..."
  { re: /proofpoint/i, provider: 'Proofpoint', list: 'Proofpoint', delist: 'https://ipcheck.proofpoint.com/' },
  // Cloudmark Sender Intelligence: "... CSI ... https://csi.cloudmark.com/reset-request/"
  { re: /cloudmark|\bcsi\.cloudmark/i, provider: 'Cloudmark', list: 'Cloudmark Sender Intelligence', delist: 'https://csi.cloudmark.com/en/reset/' },
  // Trend Micro Email Reputation Services: "... https://ers.trendmicro.com/..."
  { re: /ers\.trendmicro|trend ?micro/i, provider: 'Trend Micro', list: 'Trend Micro Email Reputation Services', delist: 'https://ers.trendmicro.com/' },
  { re: /uceprotect/i, provider: 'UCEPROTECT', list: 'UCEPROTECT', delist: 'https://www.uceprotect.net/en/rblcheck.php' },
  // Postfix reject_rbl_client: "Client host [192.0.2.1] blocked using zen.spamhaus.org; ..."
  { re: /blocked using ([a-z0-9][a-z0-9.-]*\.[a-z]{2,})/i, provider: (m) => zone(m[1]).provider, list: (m) => zone(m[1]).list, delist: (m) => zone(m[1]).delist },
  // Exim / others: "... is listed in <zone>", "listed at <zone>", "RBL <zone>"
  { re: /listed (?:in|on|at|by) ([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+\.[a-z]{2,})/i, provider: (m) => zone(m[1]).provider, list: (m) => zone(m[1]).list, delist: (m) => zone(m[1]).delist },
  { re: /\b(?:RBL|DNSBL)\b[^a-z0-9]*([a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+\.[a-z]{2,})/i, provider: (m) => zone(m[1]).provider, list: (m) => zone(m[1]).list, delist: (m) => zone(m[1]).delist },
];

/** The blocklist a remote reply names, or null. */
export function recogniseBlocklist(reply: string | null | undefined): BlocklistHit | null {
  if (!reply) return null;
  const text = reply.slice(0, 2000);
  for (const p of PATTERNS) {
    const m = p.re.exec(text);
    if (!m) continue;
    const pick = (v: string | ((m: RegExpExecArray) => string)) => (typeof v === 'string' ? v : v(m));
    return { provider: pick(p.provider), list: pick(p.list), delist: pick(p.delist) };
  }
  return null;
}

/** One sentence for the DSN and the logs. */
export function blocklistSentence(hit: BlocklistHit, reportingMta: string): string {
  return `The receiving server refused it because the address of this mail server (${reportingMta}) is listed on ${hit.list}. `
    + `This is not a problem with the recipient's address; the postmaster of ${reportingMta} can look the address up and ask for delisting at ${hit.delist}.`;
}

/**
 * After an attempt: for every refused or deferred recipient whose reply names a blocklist, one
 * journey step ("blocklisted": the list, where to delist) and one warning in the log.
 */
export function noteBlocklists(
  log: { warn(o: object, msg: string): void },
  ev: (step: string, details: Record<string, unknown>) => void,
  about: { msgId: string; queueId: number; domain: string },
  rcpts: string[],
  results: Map<string, { reply: string; remoteMta: string | null; outcome: string }>,
  hostname: string,
): void {
  const seen = new Set<string>();
  for (const r of rcpts) {
    const x = results.get(r);
    const hit = recogniseBlocklist(x?.reply);
    if (!x || !hit) continue;
    ev('blocklisted', { rcpt: r, host: x.remoteMta, list: hit.list, delist: hit.delist, reply: x.reply, outcome: x.outcome });
    metrics.blocklisted.inc({ office: hostname, provider: hit.provider });
    const key = `${x.remoteMta} ${hit.list}`;
    if (seen.has(key)) continue;
    seen.add(key);
    log.warn({ id: about.msgId, queueId: about.queueId, domain: about.domain, host: x.remoteMta, list: hit.list, delist: hit.delist, reply: x.reply },
      `relay refused: ${x.remoteMta ?? about.domain} names the blocklist ${hit.list}; ${hostname}'s address must be delisted at ${hit.delist}`);
  }
}
