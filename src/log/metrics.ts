// Prometheus metrics (prom-client): one registry for the process, served at /metrics by the HTTP
// listener. The protocols count what happens where it happens (a one-line inc() at each place);
// what is a state rather than an event (open connections, queue size) is read when scraped from
// the post offices registered with watchOffice(). Labels: `office` is the post office's hostname
// (the lab runs two in one process), `listener` the listener name of config `ports`.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'postoffice_' }); // postoffice_process_cpu_seconds_total, postoffice_nodejs_heap_size_used_bytes ...

const registers = [registry];

/** A post office as the scraper sees it: structural types, so that log/ imports nothing above it. */
export interface WatchedOffice {
  name: string;
  /** open connections (ConnectionLimiter.open) */
  connections?: () => number;
  /** entries of the outbound queue still to deliver */
  queueSize?: () => Promise<number>;
}

const offices = new Set<WatchedOffice>();

/** Reads these office's gauges at every scrape until the returned function is called. */
export function watchOffice(o: WatchedOffice): () => void {
  offices.add(o);
  return () => { offices.delete(o); };
}

/** A connection a listener accepted: counted now, and as open until the returned function is called. */
export function countConnection(office: string, listener: string): () => void {
  metrics.connectionsTotal.inc({ office, listener });
  metrics.listenerConnections.inc({ office, listener });
  let open = true;
  return () => {
    if (open) metrics.listenerConnections.dec({ office, listener });
    open = false;
  };
}

export const metrics = {
  connections: new Gauge({
    name: 'postoffice_connections', help: 'Open client connections, all listeners of a post office together', labelNames: ['office'] as const, registers,
    collect() {
      this.reset();
      for (const o of offices) if (o.connections) this.set({ office: o.name }, o.connections());
    },
  }),
  listenerConnections: new Gauge({ name: 'postoffice_listener_connections', help: 'Open client connections, by listener', labelNames: ['office', 'listener'] as const, registers }),
  connectionsTotal: new Counter({ name: 'postoffice_connections_total', help: 'Client connections accepted, by listener', labelNames: ['office', 'listener'] as const, registers }),
  received: new Counter({ name: 'postoffice_messages_received_total', help: 'Messages accepted over SMTP (250 after DATA), by listener', labelNames: ['office', 'listener'] as const, registers }),
  delivered: new Counter({ name: 'postoffice_messages_delivered_total', help: 'Mailbox copies stored by the MDA (local delivery)', labelNames: ['office'] as const, registers }),
  relayed: new Counter({ name: 'postoffice_messages_relayed_total', help: 'Recipients handed to a remote MX (250 from the next hop)', labelNames: ['office'] as const, registers }),
  bounced: new Counter({ name: 'postoffice_messages_bounced_total', help: 'Recipients given up on (5xx or expired): a bounce goes to the sender', labelNames: ['office'] as const, registers }),
  deferred: new Counter({ name: 'postoffice_messages_deferred_total', help: 'Relay attempts that will be retried (4xx, no connection)', labelNames: ['office'] as const, registers }),
  queueSize: new Gauge({
    name: 'postoffice_queue_entries', help: 'Outbound queue entries still to deliver', labelNames: ['office'] as const, registers,
    async collect() {
      this.reset();
      await Promise.all([...offices].map(async (o) => {
        if (o.queueSize) this.set({ office: o.name }, await o.queueSize().catch(() => Number.NaN));
      }));
    },
  }),
  deliveryLatency: new Histogram({
    name: 'postoffice_delivery_latency_seconds', help: 'From received (250 to the client) to stored in a mailbox or accepted by the next MX',
    labelNames: ['office', 'kind'] as const, buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600, 3600, 14400, 86400], registers,
  }),
  authFailures: new Counter({ name: 'postoffice_auth_failures_total', help: 'Failed logins, by protocol', labelNames: ['protocol'] as const, registers }),
  // issue 13: the defences at work
  evicted: new Counter({ name: 'postoffice_connections_evicted_total', help: 'Connections that had not logged in, closed to make room for a newcomer at a limit (cause newcomer) or for silence under pressure (cause stress)', labelNames: ['office', 'cause'] as const, registers }),
  policyRefusals: new Counter({ name: 'postoffice_policy_refusals_total', help: 'SMTP commands refused by policy: local-sender (our domain on port 25), submission-limit (per-user limits), too-many-recipients (maxRecipients)', labelNames: ['office', 'policy'] as const, registers }),
  blocklisted: new Counter({ name: 'postoffice_relay_blocklisted_total', help: 'Outbound recipients refused or deferred by a remote MX naming a blocklist, by provider (a fixed set, else other)', labelNames: ['office', 'provider'] as const, registers }),
  storeCommit: new Histogram({
    name: 'postoffice_store_commit_seconds', help: 'Time of one store write transaction (a group commit), fsync included',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers,
  }),
};
