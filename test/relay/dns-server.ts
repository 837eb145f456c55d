// A real DNS server for the relay tests (dns2, UDP and TCP on 127.0.0.1, ephemeral port):
// what is off the machine is faked with a loopback server, never a mock.
import DNS from 'dns2';
import type { AddressInfo } from 'node:net';

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

export interface DnsFixture {
  port: number;
  /** "127.0.0.1:<port>" for POSTOFFICE_DNS_SERVERS */
  server: string;
  zones: Record<string, Zone>;
  queries: string[];
  ttl: number;
  close(): Promise<void>;
}

const T = DNS.Packet.TYPE;

export async function startDns(zones: Record<string, Zone>, ttl = 300): Promise<DnsFixture> {
  const fx = { zones, queries: [] as string[], ttl } as DnsFixture;
  const handler: DNS.DnsHandler = (request, send) => {
    const res = DNS.Packet.createResponseFromRequest(request);
    const [q] = request.questions;
    const name = q.name.toLowerCase().replace(/\.$/, '');
    const typeName = Object.entries(T).find(([, v]) => v === q.type)?.[0] ?? String(q.type);
    fx.queries.push(`${typeName} ${name}`);
    const z = fx.zones[name];
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
  // TCP on TC=1); another test may hold that TCP port, so try again with a new pair
  let udp!: ReturnType<typeof DNS.createUDPServer>;
  let tcp!: ReturnType<typeof DNS.createTCPServer>;
  for (let attempt = 0; ; attempt++) {
    udp = DNS.createUDPServer(handler);
    await udp.listen(0, '127.0.0.1');
    fx.port = (udp.address() as AddressInfo).port;
    tcp = DNS.createTCPServer(handler);
    try {
      await new Promise<void>((resolve, reject) => { tcp.once('error', reject); tcp.listen(fx.port, '127.0.0.1', () => resolve()); });
      break;
    } catch (err) {
      await new Promise<void>((r) => udp.close(() => r()));
      if (attempt >= 10) throw err;
    }
  }
  fx.server = `127.0.0.1:${fx.port}`;
  fx.close = async () => {
    await new Promise<void>((r) => udp.close(() => r()));
    await new Promise<void>((r) => tcp.close(() => r()));
  };
  return fx;
}
