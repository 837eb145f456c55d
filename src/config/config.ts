// config/default.json + POSTOFFICE_* environment variables -> one frozen, typed Config.
// Every key of the file can be overridden by the env var listed beside it in KEYS.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeDomain } from '../mail/address.js';
import { parseDuration } from '../mail/duration.js';

export interface Ports {
  smtp: number; smtps: number; submission: number;
  imap: number; imaps: number; pop3: number; pop3s: number; http: number;
  /** HTTPS: the HTTP listener's routes over TLS (MTA-STS policy, autoconfig), 0 = off (optional: the lab's offices have none) */
  https?: number;
}

export interface Config {
  hostname: string;
  domains: string[];
  listen: string;
  dataDir: string;
  /** null: the SQLite file in dataDir; postgres://user:pass@host:port/db: a PostgreSQL store that several nodes may share */
  storeUrl: string | null;
  ports: Ports;
  dnsServers: string[];
  relayPort: number;
  smarthost: string | null;
  smarthostUser: string | null;
  smarthostPassword: string | null;
  tlsCert: string | null;
  tlsKey: string | null;
  /** built-in ACME (tls/acme.ts): obtain and renew the certificate of hostname + acmeNames (challenge: acmeChallenge) */
  acme: boolean;
  /** ACME account contact (expiry notices from the CA) */
  acmeEmail: string | null;
  /** ACME directory URL (null: Let's Encrypt production, or its staging with acmeStaging) */
  acmeDirectory: string | null;
  acmeStaging: boolean;
  /** more names on the ACME certificate besides hostname (e.g. autoconfig.example.org) */
  acmeNames: string[];
  /** how the ACME CA checks we hold the names: http-01 (RFC 8555 §8.3) on the HTTP listener (port 80), or tls-alpn-01 (RFC 8737) on the HTTPS listener (port 443) */
  acmeChallenge: 'http-01' | 'tls-alpn-01';
  /** MTA-STS (RFC 8461) for our domains: the mode published at mta-sts.DOMAIN (none = not published) */
  mtaSts: 'none' | 'testing' | 'enforce';
  /** MTA-STS max_age of our policy, seconds */
  mtaStsMaxAge: number;
  /** relay: honour destination domains' MTA-STS policies */
  relayMtaSts: boolean;
  maxMessageBytes: number;
  maxRecipients: number;
  logLevel: string;
  /** IMAP LOGIN / POP3 USER+PASS without TLS, but only from loopback addresses */
  allowPlaintextAuthOnLoopback: boolean;
  /** dashboard: where a password may come over plain HTTP: 'loopback' (this machine) or 'any' (a port published on the host's loopback only, as in docker-compose.yml) */
  httpPlaintextSignIn: 'loopback' | 'any';
  /** Per-user quota in bytes reported by IMAP QUOTA (0 = none) */
  quotaBytes: number;
  /** open connections, all listeners together */
  maxConnections: number;
  /** open connections from one client address, all listeners together */
  maxConnectionsPerIp: number;
  /** failed logins in one connection (SMTP AUTH, IMAP, POP3) before it is closed */
  maxLoginFailures: number;
  /** IMAP: ms of silence before a logged-in client is dropped (RFC 3501 §5.4: at least 30 min) */
  imapIdleTimeoutMs: number;
  /** IMAP: ms of silence before a client that has not logged in is dropped */
  imapPreauthTimeoutMs: number;
  /** IMAP: commands allowed before a successful login */
  imapMaxPreauthCommands: number;
  /** POP3: ms of silence before autologout (RFC 1939 §3: at least 10 min) */
  pop3IdleTimeoutMs: number;
  /** longest command line, per protocol (bytes) */
  smtpMaxLineBytes: number;
  imapMaxLineBytes: number;
  pop3MaxLineBytes: number;
  /** MIME parsing limits at delivery: nesting depth, parts, header fields */
  mimeMaxDepth: number;
  mimeMaxParts: number;
  mimeMaxHeaders: number;
  /** ms the port-25 greeting waits to catch clients that talk first */
  smtpGreetDelayMs: number;
  /** ms before an idle SMTP client is dropped */
  smtpSocketTimeoutMs: number;
  /** ms a delivery waits to join a group commit (0 = next tick) */
  commitDelayMs: number;
  /** bytes of recently read messages kept in memory for IMAP/POP3 (0 = none) */
  bodyCacheBytes: number;
  /** ms a verified login is remembered, so the next connection skips scrypt (0 = never) */
  authCacheTtlMs: number;
  /** DKIM selector for outgoing mail (key in dataDir/dkim/<domain>.<selector>.key) */
  dkimSelector: string;
  /** relay: concurrent outbound deliveries, in all and per destination domain */
  relayConcurrency: number;
  relayDomainConcurrency: number;
  /** relay: delays between attempts ("5m,10m,1h", units s m h d; the last one repeats) */
  relayRetrySchedule: string[];
  /** relay: warn the sender after this long in the queue (duration, "0" = never) */
  relayDelayWarning: string;
  /** relay: bounce what is still undelivered after this long (duration) */
  relayExpire: string;
  /** relay: destination domains whose MX must offer valid STARTTLS (certificate verified) */
  relayRequireTls: string[];
  /** relay: how often the queue runner looks for due entries, ms */
  relayPollMs: number;
  /** this node's name in queue leases (several nodes on one store); null: host name/listen address */
  nodeId: string | null;
  /** relay: how long a node holds the queue entries it took before another node may take them (renewed while delivering) */
  relayLease: string;
  /** port 25: check SPF, DKIM, DMARC and ARC of incoming mail and add Authentication-Results */
  inboundAuth: boolean;
  /** port 25: ms one message may wait for the DNS answers of those checks (then: temperror, accepted) */
  inboundAuthTimeoutMs: number;
  /** port 25: refuse (550 5.7.1) mail failing DMARC whose From: domain publishes p=reject */
  dmarcReject: boolean;
  dmarcQuarantine: boolean;
  httpTraceToken: string | null;
  /** port 25: refuse (550 5.7.23) mail whose MAIL FROM is one of our domains when SPF says fail */
  spfRejectLocalDomains: boolean;
  /** ms a silent connection that has not logged in may stay while over 70% of a connection limit (0: no stress mode) */
  stressPreauthTimeoutMs: number;
  /** port 25: mail from one of our own domains (MAIL FROM or header From:): reject unless SPF passes, spf (refuse only on SPF fail), allow */
  localSenderOnPort25: 'reject' | 'spf' | 'allow';
  /** per-user submission limits (465/587), 0 = none: messages and recipients per hour and per day */
  submissionMessagesPerHour: number;
  submissionRecipientsPerHour: number;
  submissionMessagesPerDay: number;
  submissionRecipientsPerDay: number;
  /** lab: record protocol transcripts (redacted) of SMTP, relay, IMAP and POP3 sessions */
  transcripts: 'off' | 'on';
  /** lab: transcripts older than this are dropped (duration) */
  transcriptRetention: string;
  /** lab: the oldest transcripts beyond this many bytes are dropped */
  transcriptMaxBytes: number;
  /** journey rows (and access steps) older than this are dropped (duration) */
  journeyRetention: string;
}

type Kind = 'string' | 'nstring' | 'port' | 'int' | 'bool' | 'list' | 'domains' | 'level';
interface Key { key: string; env: string; kind: Kind; help: string }

/** The config keys: name in config/default.json, env var, type, meaning. The README table mirrors it. */
export const KEYS: Key[] = [
  { key: 'hostname', env: 'POSTOFFICE_HOSTNAME', kind: 'string', help: "the server's own name (EHLO, Received:, banners, certificate)" },
  { key: 'domains', env: 'POSTOFFICE_DOMAINS', kind: 'domains', help: 'comma-separated local domains (also addable with the CLI)' },
  { key: 'listen', env: 'POSTOFFICE_LISTEN', kind: 'string', help: 'bind address for every listener' },
  { key: 'dataDir', env: 'POSTOFFICE_DATA_DIR', kind: 'string', help: 'where the SQLite database, certificates and queue live' },
  { key: 'storeUrl', env: 'POSTOFFICE_STORE_URL', kind: 'nstring', help: 'the mailbox store: empty for the SQLite file in dataDir, or postgres://USER:PASSWORD@HOST:PORT/DB for a PostgreSQL database that several postoffice nodes share' },
  { key: 'ports.smtp', env: 'POSTOFFICE_SMTP_PORT', kind: 'port', help: 'SMTP (MX, inbound, STARTTLS); 0 disables' },
  { key: 'ports.smtps', env: 'POSTOFFICE_SMTPS_PORT', kind: 'port', help: 'SMTPS submission (implicit TLS + AUTH)' },
  { key: 'ports.submission', env: 'POSTOFFICE_SUBMISSION_PORT', kind: 'port', help: 'submission (STARTTLS + AUTH)' },
  { key: 'ports.imap', env: 'POSTOFFICE_IMAP_PORT', kind: 'port', help: 'IMAP (STARTTLS)' },
  { key: 'ports.imaps', env: 'POSTOFFICE_IMAPS_PORT', kind: 'port', help: 'IMAPS (implicit TLS)' },
  { key: 'ports.pop3', env: 'POSTOFFICE_POP3_PORT', kind: 'port', help: 'POP3 (STLS)' },
  { key: 'ports.pop3s', env: 'POSTOFFICE_POP3S_PORT', kind: 'port', help: 'POP3S (implicit TLS)' },
  { key: 'ports.http', env: 'POSTOFFICE_HTTP_PORT', kind: 'port', help: 'HTTP (health and lab pages)' },
  { key: 'ports.https', env: 'POSTOFFICE_HTTPS_PORT', kind: 'port', help: 'HTTPS: the same routes over TLS with the server\'s certificate (MTA-STS policy at mta-sts.DOMAIN needs it on 443); 0 disables' },
  { key: 'dnsServers', env: 'POSTOFFICE_DNS_SERVERS', kind: 'list', help: 'resolvers for MX/A/AAAA look-ups, host:port, comma-separated (empty: the system\'s)' },
  { key: 'relayPort', env: 'POSTOFFICE_RELAY_PORT', kind: 'port', help: 'TCP port used when delivering to a remote MX (tests only)' },
  { key: 'smarthost', env: 'POSTOFFICE_SMARTHOST', kind: 'nstring', help: 'optional host:port to relay everything through' },
  { key: 'smarthostUser', env: 'POSTOFFICE_SMARTHOST_USER', kind: 'nstring', help: 'AUTH user for the smarthost' },
  { key: 'smarthostPassword', env: 'POSTOFFICE_SMARTHOST_PASSWORD', kind: 'nstring', help: 'AUTH password for the smarthost' },
  { key: 'tlsCert', env: 'POSTOFFICE_TLS_CERT', kind: 'nstring', help: 'PEM certificate (chain) to use instead of the generated self-signed one' },
  { key: 'tlsKey', env: 'POSTOFFICE_TLS_KEY', kind: 'nstring', help: 'PEM private key for POSTOFFICE_TLS_CERT' },
  { key: 'acme', env: 'POSTOFFICE_ACME', kind: 'bool', help: 'obtain and renew the certificate from an ACME CA (Let\'s Encrypt), proven as acmeChallenge says: HTTP-01 on the HTTP listener (port 80) by default (1/0)' },
  { key: 'acmeEmail', env: 'POSTOFFICE_ACME_EMAIL', kind: 'nstring', help: 'ACME account contact address (the CA writes about expiry and policy changes)' },
  { key: 'acmeDirectory', env: 'POSTOFFICE_ACME_DIRECTORY', kind: 'nstring', help: 'ACME directory URL (empty: Let\'s Encrypt production)' },
  { key: 'acmeStaging', env: 'POSTOFFICE_ACME_STAGING', kind: 'bool', help: 'use Let\'s Encrypt staging (untrusted certificates, generous rate limits) when acmeDirectory is empty' },
  { key: 'acmeNames', env: 'POSTOFFICE_ACME_NAMES', kind: 'list', help: 'more names on the ACME certificate besides hostname, e.g. autoconfig.example.org (each must point here)' },
  { key: 'acmeChallenge', env: 'POSTOFFICE_ACME_CHALLENGE', kind: 'string', help: 'how the ACME CA checks the names: http-01 (the HTTP listener, reachable as port 80) or tls-alpn-01 (the HTTPS listener, reachable as port 443; the HTTP listener may be off)' },
  { key: 'mtaSts', env: 'POSTOFFICE_MTA_STS', kind: 'string', help: 'MTA-STS for our domains (RFC 8461): none, testing or enforce; served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (postoffice dns prints the records)' },
  { key: 'mtaStsMaxAge', env: 'POSTOFFICE_MTA_STS_MAX_AGE', kind: 'int', help: 'max_age of our MTA-STS policy, seconds (senders cache it this long)' },
  { key: 'relayMtaSts', env: 'POSTOFFICE_RELAY_MTA_STS', kind: 'bool', help: 'relay: honour destination domains\' MTA-STS policies (enforce: only their MX hosts, over verified TLS, else deferred)' },
  { key: 'maxMessageBytes', env: 'POSTOFFICE_MAX_MESSAGE_BYTES', kind: 'int', help: 'SIZE limit advertised and enforced' },
  { key: 'maxRecipients', env: 'POSTOFFICE_MAX_RECIPIENTS', kind: 'int', help: 'recipients per message' },
  { key: 'logLevel', env: 'POSTOFFICE_LOG_LEVEL', kind: 'level', help: 'pino level: trace debug info warn error fatal silent' },
  { key: 'httpPlaintextSignIn', env: 'POSTOFFICE_HTTP_PLAINTEXT_SIGNIN', kind: 'string', help: "dashboard: sign-in over plain HTTP from 'loopback' only, or from 'any' address (only where the HTTP port is reachable from this host alone, e.g. Docker publishing 127.0.0.1:8080)" },
  { key: 'allowPlaintextAuthOnLoopback', env: 'POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK', kind: 'bool', help: 'allow IMAP/POP3 passwords without TLS from 127.0.0.0/8 and ::1' },
  { key: 'quotaBytes', env: 'POSTOFFICE_QUOTA_BYTES', kind: 'int', help: 'per-user storage quota reported to IMAP clients (0 = unlimited)' },
  { key: 'maxConnections', env: 'POSTOFFICE_MAX_CONNECTIONS', kind: 'int', help: 'open connections in total, all listeners together' },
  { key: 'maxConnectionsPerIp', env: 'POSTOFFICE_MAX_CONNECTIONS_PER_IP', kind: 'int', help: 'open connections from one client address' },
  { key: 'maxLoginFailures', env: 'POSTOFFICE_MAX_LOGIN_FAILURES', kind: 'int', help: 'failed logins in one connection before it is closed (SMTP, IMAP, POP3)' },
  { key: 'imapIdleTimeoutMs', env: 'POSTOFFICE_IMAP_IDLE_TIMEOUT_MS', kind: 'int', help: 'IMAP: silence before a logged-in client is dropped' },
  { key: 'imapPreauthTimeoutMs', env: 'POSTOFFICE_IMAP_PREAUTH_TIMEOUT_MS', kind: 'int', help: 'IMAP: silence before a client that has not logged in is dropped' },
  { key: 'imapMaxPreauthCommands', env: 'POSTOFFICE_IMAP_MAX_PREAUTH_COMMANDS', kind: 'int', help: 'IMAP: commands allowed before login' },
  { key: 'pop3IdleTimeoutMs', env: 'POSTOFFICE_POP3_IDLE_TIMEOUT_MS', kind: 'int', help: 'POP3: silence before autologout' },
  { key: 'smtpMaxLineBytes', env: 'POSTOFFICE_SMTP_MAX_LINE_BYTES', kind: 'int', help: 'SMTP: longest command line' },
  { key: 'imapMaxLineBytes', env: 'POSTOFFICE_IMAP_MAX_LINE_BYTES', kind: 'int', help: 'IMAP: longest command line (literals apart)' },
  { key: 'pop3MaxLineBytes', env: 'POSTOFFICE_POP3_MAX_LINE_BYTES', kind: 'int', help: 'POP3: longest command line' },
  { key: 'mimeMaxDepth', env: 'POSTOFFICE_MIME_MAX_DEPTH', kind: 'int', help: 'MIME: nesting depth parsed at delivery; deeper parts stay opaque' },
  { key: 'mimeMaxParts', env: 'POSTOFFICE_MIME_MAX_PARTS', kind: 'int', help: 'MIME: parts parsed at delivery' },
  { key: 'mimeMaxHeaders', env: 'POSTOFFICE_MIME_MAX_HEADERS', kind: 'int', help: 'MIME: header fields parsed per part' },
  { key: 'smtpGreetDelayMs', env: 'POSTOFFICE_SMTP_GREET_DELAY_MS', kind: 'int', help: 'port 25: ms the greeting waits, to catch clients that talk first' },
  { key: 'smtpSocketTimeoutMs', env: 'POSTOFFICE_SMTP_TIMEOUT_MS', kind: 'int', help: 'idle SMTP client timeout' },
  { key: 'commitDelayMs', env: 'POSTOFFICE_COMMIT_DELAY_MS', kind: 'int', help: 'how long a delivery may wait to share a group commit' },
  { key: 'authCacheTtlMs', env: 'POSTOFFICE_AUTH_CACHE_TTL_MS', kind: 'int', help: 'how long a verified login is remembered (keyed by a hash, never the password), so further connections skip scrypt (0 = never)' },
  { key: 'bodyCacheBytes', env: 'POSTOFFICE_BODY_CACHE_BYTES', kind: 'int', help: 'memory for recently read message bytes, shared by IMAP and POP3 sessions (0 = none)' },
  { key: 'dkimSelector', env: 'POSTOFFICE_DKIM_SELECTOR', kind: 'string', help: 'DKIM selector of outgoing mail (TXT at <selector>._domainkey.<domain>)' },
  { key: 'relayConcurrency', env: 'POSTOFFICE_RELAY_CONCURRENCY', kind: 'int', help: 'outbound SMTP deliveries at once, in all' },
  { key: 'relayDomainConcurrency', env: 'POSTOFFICE_RELAY_DOMAIN_CONCURRENCY', kind: 'int', help: 'outbound SMTP deliveries at once to one destination domain' },
  { key: 'relayRetrySchedule', env: 'POSTOFFICE_RELAY_RETRY_SCHEDULE', kind: 'list', help: 'delays between delivery attempts, e.g. 5m,10m,20m,40m,1h,2h,4h (the last repeats)' },
  { key: 'relayDelayWarning', env: 'POSTOFFICE_RELAY_DELAY_WARNING', kind: 'string', help: 'tell the sender a message is delayed after this long (0 = never)' },
  { key: 'relayExpire', env: 'POSTOFFICE_RELAY_EXPIRE', kind: 'string', help: 'bounce what is still undelivered after this long' },
  { key: 'relayRequireTls', env: 'POSTOFFICE_RELAY_REQUIRE_TLS', kind: 'list', help: 'destination domains that must get mail over verified STARTTLS' },
  { key: 'relayPollMs', env: 'POSTOFFICE_RELAY_POLL_MS', kind: 'int', help: 'how often the queue runner looks for due entries (ms)' },
  { key: 'nodeId', env: 'POSTOFFICE_NODE_ID', kind: 'nstring', help: "this node's name in queue leases when several nodes share one store (empty: host name/listen address); unique per node, the same across its restarts (a restarted node takes back its own leases at once)" },
  { key: 'relayLease', env: 'POSTOFFICE_RELAY_LEASE', kind: 'string', help: 'how long a node holds the queue entries it took (renewed every third of it while it delivers); a node that dies gives them up after this long' },
  { key: 'inboundAuth', env: 'POSTOFFICE_INBOUND_AUTH', kind: 'bool', help: 'port 25: verify SPF, DKIM, DMARC, ARC and add Authentication-Results (on/off)' },
  { key: 'inboundAuthTimeoutMs', env: 'POSTOFFICE_INBOUND_AUTH_TIMEOUT_MS', kind: 'int', help: 'port 25: total ms of DNS waiting per message for those checks; past it the result is temperror and the mail is accepted' },
  { key: 'dmarcReject', env: 'POSTOFFICE_DMARC_REJECT', kind: 'bool', help: 'port 25: refuse with 550 5.7.1 mail that fails DMARC when the From: domain publishes p=reject' },
  { key: 'httpTraceToken', env: 'POSTOFFICE_HTTP_TRACE_TOKEN', kind: 'nstring', help: 'HTTP: scripts use Authorization: Bearer <this token> for /api/* (else a signed-in admin), and clients off this machine for /metrics and /healthz (empty: loopback only)' },
  { key: 'dmarcQuarantine', env: 'POSTOFFICE_DMARC_QUARANTINE', kind: 'bool', help: 'port 25: file mail that fails DMARC under p=quarantine (or p=reject not refused) into the recipient\'s Junk mailbox' },
  { key: 'spfRejectLocalDomains', env: 'POSTOFFICE_SPF_REJECT_LOCAL_DOMAINS', kind: 'bool', help: 'port 25: refuse with 550 5.7.23 a MAIL FROM in one of our domains when SPF fails' },
  { key: 'stressPreauthTimeoutMs', env: 'POSTOFFICE_STRESS_PREAUTH_TIMEOUT_MS', kind: 'int', help: 'over 70% of a connection limit: ms of silence after which a connection that has not logged in is closed (0 = off)' },
  { key: 'localSenderOnPort25', env: 'POSTOFFICE_LOCAL_SENDER_ON_PORT25', kind: 'string', help: 'port 25, mail from one of our own domains (MAIL FROM or header From:): reject (550 5.7.1 unless SPF passes), spf (refuse only when SPF fails), allow' },
  { key: 'submissionMessagesPerHour', env: 'POSTOFFICE_SUBMISSION_MESSAGES_PER_HOUR', kind: 'int', help: 'messages one user may submit per hour (465/587); past it 451 4.7.1 (0 = no limit)' },
  { key: 'submissionRecipientsPerHour', env: 'POSTOFFICE_SUBMISSION_RECIPIENTS_PER_HOUR', kind: 'int', help: 'recipients one user may submit to per hour (0 = no limit)' },
  { key: 'submissionMessagesPerDay', env: 'POSTOFFICE_SUBMISSION_MESSAGES_PER_DAY', kind: 'int', help: 'messages one user may submit per 24 hours (0 = no limit)' },
  { key: 'submissionRecipientsPerDay', env: 'POSTOFFICE_SUBMISSION_RECIPIENTS_PER_DAY', kind: 'int', help: 'recipients one user may submit to per 24 hours (0 = no limit)' },
  { key: 'transcripts', env: 'POSTOFFICE_TRANSCRIPTS', kind: 'string', help: 'lab: record the C:/S: transcripts of SMTP, relay, IMAP and POP3 sessions, passwords redacted (on/off)' },
  { key: 'transcriptRetention', env: 'POSTOFFICE_TRANSCRIPT_RETENTION', kind: 'string', help: 'lab: drop transcripts older than this (e.g. 7d)' },
  { key: 'transcriptMaxBytes', env: 'POSTOFFICE_TRANSCRIPT_MAX_BYTES', kind: 'int', help: 'lab: drop the oldest transcripts beyond this many bytes in all' },
  { key: 'journeyRetention', env: 'POSTOFFICE_JOURNEY_RETENTION', kind: 'string', help: 'drop journey steps older than this (e.g. 30d)' },
];

/** Invalid configuration: the message is one line naming the key. */
export class ConfigError extends Error {}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The folder holding package.json (so config/ is found whatever the cwd). */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function get(obj: Record<string, unknown>, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}
function set(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
  o[parts[parts.length - 1]] = value;
}

function coerce(k: Key, raw: unknown, from: string): unknown {
  const bad = (why: string) => new ConfigError(`invalid config: ${k.key} (${from}): ${why}`);
  const str = (v: unknown) => (typeof v === 'string' ? v.trim() : v);
  const v = str(raw);
  switch (k.kind) {
    case 'string':
      if (typeof v !== 'string' || v === '') throw bad('expected a non-empty string');
      return v;
    case 'nstring':
      if (v === null || v === undefined || v === '') return null;
      if (typeof v !== 'string') throw bad('expected a string');
      return v;
    case 'port': {
      const n = typeof v === 'number' ? v : /^\d+$/.test(String(v)) ? Number(v) : NaN;
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw bad(`expected a port number 0-65535, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'int': {
      const n = typeof v === 'number' ? v : /^\d+$/.test(String(v)) ? Number(v) : NaN;
      if (!Number.isSafeInteger(n) || n < 0) throw bad(`expected a non-negative integer, got ${JSON.stringify(raw)}`);
      return n;
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (/^(1|true|yes|on)$/i.test(String(v))) return true;
      if (/^(0|false|no|off)$/i.test(String(v))) return false;
      throw bad(`expected true or false, got ${JSON.stringify(raw)}`);
    case 'level':
      if (typeof v !== 'string' || !LEVELS.includes(v)) throw bad(`expected one of ${LEVELS.join(', ')}`);
      return v;
    case 'list':
    case 'domains': {
      const items = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',') : null;
      if (!items) throw bad('expected a list or a comma-separated string');
      const list = items.map((s) => s.trim()).filter(Boolean);
      if (k.kind === 'list') return list;
      return list.map((d) => {
        const n = normalizeDomain(d);
        if (!n) throw bad(`not a domain name: ${JSON.stringify(d)}`);
        return n;
      });
    }
  }
}

/** Load the config file and apply the environment. Throws ConfigError (one line) when invalid. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // layers: config/default.json, then the operator's file (POSTOFFICE_CONFIG), then the environment
  const readJson = (file: string, key: string): Record<string, unknown> => {
    if (!existsSync(file)) throw new ConfigError(`invalid config: ${key}: no such file ${file}`);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`invalid config: ${file} is not valid JSON: ${(err as Error).message.split('\n')[0]}`);
    }
  };
  const defaults = readJson(path.join(PACKAGE_ROOT, 'config', 'default.json'), 'config/default.json');
  const file = env.POSTOFFICE_CONFIG || path.join(PACKAGE_ROOT, 'config', 'default.json');
  const own = env.POSTOFFICE_CONFIG ? readJson(env.POSTOFFICE_CONFIG, 'POSTOFFICE_CONFIG') : {};
  const fromFile: Record<string, unknown> = { ...defaults, ...own, ports: { ...(defaults.ports as object), ...((own.ports as object) ?? {}) } };
  const known = new Set(KEYS.map((k) => k.key.split('.')[0]));
  for (const name of Object.keys(own)) {
    if (!known.has(name) && !name.startsWith('$')) throw new ConfigError(`invalid config: ${name} (${file}): unknown key`);
  }
  const out: Record<string, unknown> = {};
  for (const k of KEYS) {
    const e = env[k.env];
    const value = e !== undefined ? coerce(k, e, k.env) : coerce(k, get(fromFile, k.key), file);
    set(out, k.key, value);
  }
  const c = out as unknown as Config;
  if (c.domains.length === 0) throw new ConfigError('invalid config: domains: at least one local domain is needed');
  if ((c.tlsCert === null) !== (c.tlsKey === null)) throw new ConfigError('invalid config: tlsCert/tlsKey (POSTOFFICE_TLS_CERT/_KEY): set both or neither');
  if (!['none', 'testing', 'enforce'].includes(c.mtaSts)) throw new ConfigError(`invalid config: mtaSts (POSTOFFICE_MTA_STS): expected none, testing or enforce, got ${JSON.stringify(c.mtaSts)}`);
  if (c.acme && c.tlsCert) throw new ConfigError('invalid config: acme (POSTOFFICE_ACME) and tlsCert (POSTOFFICE_TLS_CERT): choose one source of certificates');
  if (c.acmeChallenge !== 'http-01' && c.acmeChallenge !== 'tls-alpn-01') throw new ConfigError(`invalid config: acmeChallenge (POSTOFFICE_ACME_CHALLENGE): expected http-01 or tls-alpn-01, got ${JSON.stringify(c.acmeChallenge)}`);
  for (const n of c.acmeNames) if (!normalizeDomain(n)) throw new ConfigError(`invalid config: acmeNames (POSTOFFICE_ACME_NAMES): not a host name: ${JSON.stringify(n)}`);
  if (c.httpPlaintextSignIn !== 'loopback' && c.httpPlaintextSignIn !== 'any') throw new ConfigError(`invalid config: httpPlaintextSignIn (POSTOFFICE_HTTP_PLAINTEXT_SIGNIN): expected loopback or any, got ${JSON.stringify(c.httpPlaintextSignIn)}`);
  if (!['reject', 'spf', 'allow'].includes(c.localSenderOnPort25)) throw new ConfigError(`invalid config: localSenderOnPort25 (POSTOFFICE_LOCAL_SENDER_ON_PORT25): expected reject, spf or allow, got ${JSON.stringify(c.localSenderOnPort25)}`);
  c.dataDir = path.resolve(c.dataDir);
  if (c.storeUrl !== null && !/^postgres(ql)?:\/\//i.test(c.storeUrl)) throw new ConfigError(`invalid config: storeUrl (POSTOFFICE_STORE_URL): expected postgres://USER:PASSWORD@HOST:PORT/DATABASE (or empty for SQLite), got ${JSON.stringify(c.storeUrl.replace(/:[^:@/]*@/, ':***@'))}`);
  if (c.transcripts !== 'on' && c.transcripts !== 'off') throw new ConfigError(`invalid config: transcripts (POSTOFFICE_TRANSCRIPTS): expected on or off, got ${JSON.stringify(c.transcripts)}`);
  for (const [key, env] of [['transcriptRetention', 'POSTOFFICE_TRANSCRIPT_RETENTION'], ['journeyRetention', 'POSTOFFICE_JOURNEY_RETENTION'], ['relayLease', 'POSTOFFICE_RELAY_LEASE']] as const) {
    try { parseDuration(c[key]); } catch (err) { throw new ConfigError(`invalid config: ${key} (${env}): ${(err as Error).message}`); }
  }
  for (const s of [...c.dnsServers, ...(c.smarthost ? [c.smarthost] : [])]) {
    if (!/^[^\s:]+(:\d+)?$/.test(s) && !/^\[[0-9a-f:.]+\](:\d+)?$/i.test(s)) throw new ConfigError(`invalid config: dnsServers/smarthost: not host:port: ${s}`);
  }
  return deepFreeze(c);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
