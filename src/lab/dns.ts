// Lab: the DNS of the lab's little internet. A real dns2 server (UDP, and TCP on the same port
// for answers too big for UDP, RFC 7766) answering from in-memory zones; the post offices' relays
// and inbound checks ask it (config dnsServers). The lab publishes what `postoffice dns` tells an
// operator to publish (MX, A, SPF, DKIM, DMARC), and a hook lets it answer differently for a
// while (the DNS faults: null MX, SERVFAIL). The tests use the same server for their fake internet.
import DNS from 'dns2';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/config.js';
import { recordsFor } from '../relay/records.js';
import { txtStrings } from '../relay/dkim.js';

export interface Zone {
  MX?: [number, string][];
  A?: string[];
  AAAA?: string[];
  TXT?: string[][];
  PTR?: string[];
  CNAME?: string[];
  /** answer this name with SERVFAIL */
  servfail?: boolean;
  /** never answer (the client times out) */
  silent?: boolean;
}

export interface DnsQuestion { name: string; type: string }

export interface DnsServerOptions {
  /** TTL of every answer, seconds (the lab uses 0 so that resolver caches never hide a fault) */
  ttl?: number;
  host?: string;
  /** a port to try first (0 or absent: ephemeral; a busy port falls back to an ephemeral one) */
  port?: number;
  /** answer a question from this zone instead of the configured one (undefined: no override) */
  override?: (q: DnsQuestion) => Zone | undefined;
}

export interface DnsServer {
  host: string;
  port: number;
  /** "host:port" for POSTOFFICE_DNS_SERVERS / config dnsServers */
  server: string;
  zones: Record<string, Zone>;
  /** every question asked, "MX sina.test", oldest first (the last 1000) */
  queries: string[];
  ttl: number;
  close(): Promise<void>;
}

const T = DNS.Packet.TYPE;
const TYPE_NAMES = Object.fromEntries(Object.entries(T).map(([k, v]) => [v, k])) as Record<number, string>;

export async function startDnsServer(zones: Record<string, Zone>, opts: DnsServerOptions = {}): Promise<DnsServer> {
  const host = opts.host ?? '127.0.0.1';
  const fx = { zones, queries: [] as string[], ttl: opts.ttl ?? 300, host } as DnsServer;
  const handler: DNS.DnsHandler = (request, send) => {
    const res = DNS.Packet.createResponseFromRequest(request);
    const [q] = request.questions;
    if (!q) { res.header.rcode = 1; void send(res); return; } // FORMERR: no question
    const name = q.name.toLowerCase().replace(/\.$/, '');
    const typeName = TYPE_NAMES[q.type] ?? String(q.type);
    fx.queries.push(`${typeName} ${name}`);
    if (fx.queries.length > 1000) fx.queries.splice(0, fx.queries.length - 1000);
    const z = opts.override?.({ name, type: typeName }) ?? fx.zones[name];
    if (!z) {
      res.header.rcode = 3; // NXDOMAIN
      void send(res);
      return;
    }
    if (z.silent) return;
    if (z.servfail) {
      res.header.rcode = 2;
      void send(res);
      return;
    }
    const base = { name: q.name, class: DNS.Packet.CLASS.IN, ttl: fx.ttl };
    if (q.type === T.MX) for (const [priority, exchange] of z.MX ?? []) res.answers.push({ ...base, type: T.MX, priority, exchange } as DNS.Packet.Resource);
    if (q.type === T.A) for (const address of z.A ?? []) res.answers.push({ ...base, type: T.A, address } as DNS.Packet.Resource);
    if (q.type === T.AAAA) for (const address of z.AAAA ?? []) res.answers.push({ ...base, type: T.AAAA, address } as DNS.Packet.Resource);
    if (q.type === T.TXT) for (const data of z.TXT ?? []) res.answers.push({ ...base, type: T.TXT, data } as DNS.Packet.Resource);
    if (q.type === T.PTR) for (const domain of z.PTR ?? []) res.answers.push({ ...base, type: T.PTR, domain } as DNS.Packet.Resource);
    if (q.type === T.CNAME) for (const domain of z.CNAME ?? []) res.answers.push({ ...base, type: T.CNAME, domain } as DNS.Packet.Resource);
    void send(res);
  };
  // a UDP port, and the same port on TCP for answers too big for UDP (DKIM keys: dns2 retries over
  // TCP on TC=1); another process may hold that TCP port, so try again with a new pair
  let udp!: ReturnType<typeof DNS.createUDPServer>;
  let tcp!: ReturnType<typeof DNS.createTCPServer>;
  let want = opts.port ?? 0;
  for (let attempt = 0; ; attempt++) {
    udp = DNS.createUDPServer(handler);
    try {
      await new Promise<void>((resolve, reject) => { udp.once('error', reject); udp.bind(want, host, () => { udp.off('error', reject); resolve(); }); });
    } catch (err) {
      if (want === 0 || attempt >= 10) throw err;
      want = 0; // the preferred port is taken: any port will do
      continue;
    }
    fx.port = (udp.address() as AddressInfo).port;
    tcp = DNS.createTCPServer(handler);
    try {
      await new Promise<void>((resolve, reject) => { tcp.once('error', reject); tcp.listen(fx.port, host, () => { tcp.off('error', reject); resolve(); }); });
      break;
    } catch (err) {
      await new Promise<void>((r) => udp.close(() => r()));
      want = 0;
      if (attempt >= 10) throw err;
    }
  }
  fx.server = `${host}:${fx.port}`;
  fx.close = async () => {
    await new Promise<void>((r) => udp.close(() => r()));
    await new Promise<void>((r) => tcp.close(() => r()));
  };
  return fx;
}

/** A post office of the lab as DNS knows it. */
export interface OfficeAddress { config: Config; domain: string; ip: string }

/**
 * The zones of the lab's post offices: for each, the records `postoffice dns DOMAIN` prints
 * (MX, SPF, DKIM with the office's real key, DMARC, the autoconfig names) and the A record of
 * its host name. SRV records are left out: they name the standard ports, the lab uses others.
 */
export function officeZones(offices: OfficeAddress[]): Record<string, Zone> {
  const zones: Record<string, Zone> = {};
  const zone = (name: string) => (zones[name.toLowerCase().replace(/\.$/, '')] ??= {});
  for (const o of offices) {
    for (const r of recordsFor(o.config, o.domain)) {
      if (r.type === 'MX') {
        const [pref, exchange] = r.value.split(/\s+/);
        (zone(r.name).MX ??= []).push([Number(pref), exchange.replace(/\.$/, '')]);
      } else if (r.type === 'TXT') (zone(r.name).TXT ??= []).push(txtStrings(r.value));
      else if (r.type === 'CNAME') (zone(r.name).CNAME ??= []).push(r.value.replace(/\.$/, ''));
      else if (r.type === 'A') zone(r.name).A = [o.ip];
    }
  }
  return zones;
}
