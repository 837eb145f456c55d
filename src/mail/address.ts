// The vocabulary of addresses: RFC 5321 §4.1.2 Mailbox = Local-part "@" ( Domain / address-literal ).
// No I/O here. Domains compare case-insensitively; we also lower-case local parts
// for lookup (as Postfix and Dovecot do by default), and keep the original for display.

export interface Address {
  local: string;
  domain: string;
  /** local@domain, lower-cased: the key for users, aliases and mailboxes */
  key: string;
}

const DOMAIN_RE = /^(?=.{1,253}$)([a-z0-9\u0080-\uffff]([a-z0-9\u0080-\uffff-]{0,61}[a-z0-9\u0080-\uffff])?)(\.[a-z0-9\u0080-\uffff]([a-z0-9\u0080-\uffff-]{0,61}[a-z0-9\u0080-\uffff])?)*$/i;

export function isValidDomain(domain: string): boolean {
  return DOMAIN_RE.test(domain);
}

/** Parse "local@domain"; returns null for anything that is not one address. */
export function parseAddress(text: string): Address | null {
  const s = text.trim();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return null;
  const local = s.slice(0, at);
  const domain = s.slice(at + 1).toLowerCase();
  if (local.length > 64 || /[\s<>]/.test(local) || !isValidDomain(domain)) return null;
  return { local, domain, key: `${local.toLowerCase()}@${domain}` };
}

export function normalizeDomain(domain: string): string | null {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  return isValidDomain(d) ? d : null;
}

/** 127.0.0.0/8 and ::1 (also as IPv4-mapped IPv6): a client on this machine. */
export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}
