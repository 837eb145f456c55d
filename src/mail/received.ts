// RFC 5321 §4.4 trace information: the Received: and Return-Path: header fields.

export interface ReceivedInfo {
  /** HELO/EHLO name the client gave */
  helo: string;
  /** client IP address */
  remoteAddress: string;
  /** the reverse name of the client, if known */
  remoteName?: string;
  /** our own host name */
  by: string;
  /** RFC 3848: ESMTP, ESMTPS, ESMTPA, ESMTPSA */
  with: string;
  tls?: { version: string; cipher: string } | null;
  /** our id for this transaction: shown in logs and in `postoffice trace` */
  id: string;
  /** a single envelope recipient (omitted with several, so one copy can be shared: RFC 5321 §7.2) */
  for?: string;
  date: Date;
}

/** RFC 5322 §3.3 date-time, e.g. "Mon, 23 Nov 2026 16:32:04 +0000" */
export function rfc5322Date(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** RFC 5321 §4.4 Time-stamp-line, folded at sensible points with CRLF + tab. */
export function receivedHeader(r: ReceivedInfo): string {
  const from = `from ${r.helo || 'unknown'} (${r.remoteName ? r.remoteName + ' ' : ''}[${r.remoteAddress}])`;
  const lines = [`Received: ${from}`, `\tby ${r.by} (postoffice) with ${r.with} id ${r.id}`];
  if (r.tls) lines.push(`\t(version=${r.tls.version} cipher=${r.tls.cipher})`);
  if (r.for) lines.push(`\tfor <${r.for}>`);
  lines[lines.length - 1] += ';';
  lines.push(`\t${rfc5322Date(r.date)}`);
  return lines.join('\r\n') + '\r\n';
}

/** RFC 5321 §4.4: the final delivery records the envelope sender; <> for bounces. */
export function returnPathHeader(mailFrom: string): string {
  return `Return-Path: <${mailFrom}>\r\n`;
}
