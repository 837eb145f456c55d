// MTA-STS (RFC 8461) vocabulary, no I/O: the policy file (§3.2) as we serve it for our domains and
// as we parse it from remote ones, the `_mta-sts` TXT record (§3.1), and MX matching (§4.1).
import { createHash } from 'node:crypto';

export type MtaStsMode = 'enforce' | 'testing' | 'none';

export interface MtaStsPolicy {
  mode: MtaStsMode;
  /** MX patterns: host names, or "*.example.org" matching one leftmost label */
  mx: string[];
  /** seconds the policy may be cached (§3.2: at most 31557600) */
  maxAge: number;
}

/** §3.2: the largest max_age a sender honours (one year). */
export const MAX_AGE_LIMIT = 31_557_600;
/** §3.3: the policy body a sender reads at most (64 KiB is what Postfix's and others' fetchers allow). */
export const POLICY_MAX_BYTES = 64 * 1024;

/** §3.2: the policy file, CRLF lines. */
export function policyText(p: MtaStsPolicy): string {
  return ['version: STSv1', `mode: ${p.mode}`, ...p.mx.map((m) => `mx: ${m}`), `max_age: ${p.maxAge}`].map((l) => l + '\r\n').join('');
}

/** §3.1: the policy id, 1-32 alphanumerics, changing whenever the policy text changes. */
export function policyId(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 20);
}

/** §3.1: the TXT record at _mta-sts.DOMAIN. */
export function stsTxt(id: string): string {
  return `v=STSv1; id=${id}`;
}

/** §3.1: the id of a `_mta-sts` TXT record, or null when it is not a valid STSv1 record. */
export function parseStsTxt(txt: string): string | null {
  const fields = txt.split(';').map((f) => f.trim()).filter(Boolean);
  if (fields[0] !== 'v=STSv1') return null;
  const id = fields.map((f) => /^id=([A-Za-z0-9]{1,32})$/.exec(f)?.[1]).find(Boolean);
  return id ?? null;
}

/** §3.2: parse a policy body; throws with the reason when it is not a valid STSv1 policy. */
export function parsePolicy(body: string): MtaStsPolicy {
  let version = '', mode = '', maxAge = NaN;
  const mx: string[] = [];
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^([A-Za-z0-9_]+):\s*(.*)$/.exec(line);
    if (!m) throw new Error(`policy line is not "key: value": ${JSON.stringify(line.slice(0, 80))}`);
    const [, key, value] = m;
    if (key === 'version') version = value;
    else if (key === 'mode') mode = value;
    else if (key === 'max_age') maxAge = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
    else if (key === 'mx') mx.push(value.toLowerCase().replace(/\.$/, ''));
    // §3.2: unknown keys are ignored
  }
  if (version !== 'STSv1') throw new Error(`policy version is ${JSON.stringify(version)}, not STSv1`);
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') throw new Error(`policy mode ${JSON.stringify(mode)} is none of enforce, testing, none`);
  if (!Number.isFinite(maxAge)) throw new Error('policy has no valid max_age');
  if (mode !== 'none' && mx.length === 0) throw new Error(`policy mode ${mode} names no mx`);
  return { mode, mx, maxAge: Math.min(maxAge, MAX_AGE_LIMIT) };
}

/** §4.1: does an MX host match one of the policy's mx patterns ("*." matches exactly one label)? */
export function mxMatches(host: string, patterns: string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => {
    if (p.startsWith('*.')) {
      const rest = p.slice(2);
      const dot = h.indexOf('.');
      return dot > 0 && h.slice(dot + 1) === rest;
    }
    return p === h;
  });
}
