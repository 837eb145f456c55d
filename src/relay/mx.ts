// MTA out, step one: RFC 5321 §5.1 "Locating the Target Host", through dns2 pointed at the
// configured resolvers (POSTOFFICE_DNS_SERVERS, host:port) or the system's (/etc/resolv.conf).
// Every question and answer is kept so the journey can show it.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import DNS from 'dns2';

/** One answer record, as the journey shows it. */
export interface DnsRecord { name: string; type: string; ttl: number; data: string; preference?: number }

/** One question asked, and what came back. */
export interface DnsExchange { question: string; type: string; server: string; rcode: string; answers: DnsRecord[]; cached?: boolean; error?: string }

export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED' | 'TIMEOUT';

export interface DnsAnswer { rcode: Rcode; answers: DnsRecord[]; server: string }

/** A target host and its addresses, in the order they are to be tried. */
export interface MxHost { host: string; preference: number; addresses: string[]; implicit: boolean }

export type TargetLookup =
  | { kind: 'hosts'; hosts: MxHost[]; exchanges: DnsExchange[] }
  /** no point in retrying: NXDOMAIN, null MX (RFC 7505), no address at all */
  | { kind: 'permanent'; status: string; reason: string; exchanges: DnsExchange[] }
  /** SERVFAIL, timeout: try again later */
  | { kind: 'temporary'; status: string; reason: string; exchanges: DnsExchange[] };

const RCODES: Rcode[] = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
const TYPE_NAMES = Object.fromEntries(Object.entries(DNS.Packet.TYPE).map(([k, v]) => [v, k])) as Record<number, string>;

export interface ResolverOptions {
  /** host:port list; empty = the nameservers of /etc/resolv.conf on port 53 */
  servers: string[];
  timeoutMs?: number;
  /** largest TTL honoured by the cache, seconds */
  maxTtl?: number;
  /** seconds a negative answer is cached */
  negativeTtl?: number;
}

interface Server { host: string; port: number; label: string }

function parseServer(s: string): Server {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) throw new Error(`not host:port: ${s}`);
  const port = m[2] ? Number(m[2]) : 53;
  return { host: m[1], port, label: `${m[1]}:${port}` };
}

/** The system's resolvers: the `nameserver` lines of /etc/resolv.conf (127.0.0.1 when none). */
export function systemServers(file = '/etc/resolv.conf'): string[] {
  try {
    const out = readFileSync(file, 'utf8').split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x)
      .map((h) => (h.includes(':') ? `[${h.replace(/%.*$/, '')}]:53` : `${h}:53`));
    return out.length ? out : ['127.0.0.1:53'];
  } catch {
    return ['127.0.0.1:53'];
  }
}

function recordData(r: DNS.Packet.Resource): string {
  switch (TYPE_NAMES[r.type]) {
    case 'A': case 'AAAA': return r.address ?? '';
    case 'MX': return r.exchange ?? '';
    case 'CNAME': case 'PTR': case 'NS': return r.domain ?? r.ns ?? '';
    case 'TXT': case 'SPF': return Array.isArray(r.data) ? r.data.join('') : String(r.data ?? '');
    case 'SRV': return `${r.priority ?? 0} ${r.weight ?? 0} ${r.port ?? 0} ${r.target ?? ''}`;
    default: return '';
  }
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** A small stub resolver with a TTL cache (SERVFAIL and timeouts are never cached). */
export class Resolver {
  private readonly servers: Server[];
  private readonly timeoutMs: number;
  private readonly maxTtl: number;
  private readonly negativeTtl: number;
  private readonly cache = new Map<string, { expires: number; answer: DnsAnswer }>();

  constructor(opts: ResolverOptions) {
    this.servers = (opts.servers.length ? opts.servers : systemServers()).map(parseServer);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxTtl = opts.maxTtl ?? 3600;
    this.negativeTtl = opts.negativeTtl ?? 30;
  }

  get serverLabels(): string[] {
    return this.servers.map((s) => s.label);
  }

  /** Ask each server in turn until one answers (UDP; dns2 retries over TCP when truncated). */
  async query(name: string, type: 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME' | 'SRV', log?: DnsExchange[]): Promise<DnsAnswer> {
    const key = `${type} ${name.toLowerCase()}`;
    const hit = this.cache.get(key);
    if (hit && hit.expires > Date.now()) {
      log?.push({ question: name, type, server: hit.answer.server, rcode: hit.answer.rcode, answers: hit.answer.answers, cached: true });
      return hit.answer;
    }
    let last: DnsAnswer = { rcode: 'TIMEOUT', answers: [], server: this.servers.map((s) => s.label).join(',') };
    for (const s of this.servers) {
      try {
        const client = DNS.UDPClient({ dns: s.host, port: s.port, timeout: this.timeoutMs, socketType: net.isIPv6(s.host) ? 'udp6' : 'udp4' });
        const res = await client(name, type);
        const rcode = RCODES[res.header.rcode] ?? 'SERVFAIL';
        const answers = res.answers
          .filter((r) => TYPE_NAMES[r.type] === type)
          .map((r) => ({ name: r.name, type, ttl: r.ttl, data: recordData(r), ...(type === 'MX' ? { preference: r.priority ?? 0 } : {}) }));
        last = { rcode, answers, server: s.label };
        log?.push({ question: name, type, server: s.label, rcode, answers });
        if (rcode === 'SERVFAIL' || rcode === 'REFUSED') continue; // another server may know
        // RFC 2308: negative answers (NXDOMAIN, NOERROR without records) are cached too, briefly
        const ttl = rcode === 'NXDOMAIN' || !answers.length ? this.negativeTtl : Math.min(this.maxTtl, ...answers.map((a) => a.ttl));
        if (rcode === 'NOERROR' || rcode === 'NXDOMAIN') this.cache.set(key, { expires: Date.now() + ttl * 1000, answer: last });
        return last;
      } catch (err) {
        log?.push({ question: name, type, server: s.label, rcode: 'TIMEOUT', answers: [], error: (err as Error).message });
      }
    }
    return last;
  }

  /** A and AAAA of one host (IPv4 first); `temporary` when neither could be answered. */
  private async addresses(host: string, log: DnsExchange[]): Promise<{ addresses: string[]; rcode: Rcode }> {
    if (net.isIP(host)) return { addresses: [host], rcode: 'NOERROR' };
    const [a, aaaa] = await Promise.all([this.query(host, 'A', log), this.query(host, 'AAAA', log)]);
    const addresses = [...a.answers, ...aaaa.answers].map((r) => r.data).filter((x) => net.isIP(x));
    const rcode = addresses.length ? 'NOERROR' : a.rcode === 'NOERROR' || aaaa.rcode === 'NOERROR' ? 'NOERROR' : a.rcode;
    return { addresses, rcode };
  }

  /** RFC 5321 §5.1: the hosts to try for a domain, in order. */
  async findTargets(domain: string): Promise<TargetLookup> {
    const exchanges: DnsExchange[] = [];
    // an address literal ([192.0.2.1]) needs no look-up
    const lit = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(domain);
    if (lit && net.isIP(lit[1])) return { kind: 'hosts', hosts: [{ host: domain, preference: 0, addresses: [lit[1]], implicit: true }], exchanges };

    // 1. Look up the MX records of the domain name.
    const mx = await this.query(domain, 'MX', exchanges);
    if (mx.rcode === 'NXDOMAIN') return { kind: 'permanent', status: '5.1.2', reason: `${domain}: no such domain (NXDOMAIN)`, exchanges };
    if (mx.rcode !== 'NOERROR') return { kind: 'temporary', status: '4.4.3', reason: `${domain}: MX look-up failed (${mx.rcode})`, exchanges };

    let hosts: { host: string; preference: number; implicit: boolean }[];
    if (mx.answers.length === 0) {
      // 2. No MX records: the domain itself is the implicit MX with preference 0 (its A/AAAA).
      hosts = [{ host: domain, preference: 0, implicit: true }];
    } else {
      // RFC 7505 §3: a single MX of "." (empty exchange) means the domain accepts no mail.
      if (mx.answers.some((r) => r.data === '' || r.data === '.')) {
        return { kind: 'permanent', status: '5.1.10', reason: `${domain} publishes a null MX: it accepts no mail (RFC 7505)`, exchanges };
      }
      // 3. Sort by preference, lowest first; randomise among equal preferences to spread the load.
      const byPref = new Map<number, string[]>();
      for (const r of mx.answers) byPref.set(r.preference ?? 0, [...(byPref.get(r.preference ?? 0) ?? []), r.data.replace(/\.$/, '')]);
      hosts = [...byPref.keys()].sort((a, b) => a - b)
        .flatMap((p) => shuffle([...new Set(byPref.get(p))]).map((host) => ({ host, preference: p, implicit: false })));
    }

    // 4. Resolve each host to its addresses; a host without addresses is skipped.
    const out: MxHost[] = [];
    let anyTemporary = false;
    for (const h of hosts) {
      const r = await this.addresses(h.host, exchanges);
      if (r.addresses.length) out.push({ ...h, addresses: r.addresses });
      else if (r.rcode !== 'NOERROR' && r.rcode !== 'NXDOMAIN') anyTemporary = true;
    }
    if (out.length) return { kind: 'hosts', hosts: out, exchanges };
    // 5. Nothing to connect to. An implicit MX without an address is a dead domain; a listed MX
    //    without addresses may be a transient DNS problem.
    if (anyTemporary) return { kind: 'temporary', status: '4.4.3', reason: `${domain}: could not resolve the address of any MX`, exchanges };
    if (hosts.length === 1 && hosts[0].implicit) {
      return { kind: 'permanent', status: '5.1.2', reason: `${domain}: no MX and no address records`, exchanges };
    }
    return { kind: 'temporary', status: '4.4.4', reason: `${domain}: no address for any of its MX hosts`, exchanges };
  }

  clearCache(): void {
    this.cache.clear();
  }
}
