// A real DNS server for the relay tests (dns2, UDP and TCP on 127.0.0.1, ephemeral port):
// what is off the machine is faked with a loopback server, never a mock. The server itself is
// the lab's (src/lab/dns.ts); this keeps the tests' shorter call.
import { startDnsServer, type DnsServer, type Zone } from '../../src/lab/dns.js';

export type { Zone };
export type DnsFixture = DnsServer;

export function startDns(zones: Record<string, Zone>, ttl = 300): Promise<DnsFixture> {
  return startDnsServer(zones, { ttl });
}
