// Server-rendered HTML: a tagged template whose interpolations are escaped unless they are
// already HTML (another `html` result). No front-end build; every page is a string.

/** A piece of HTML that is safe to insert as it is. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string { return this.value; }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text -> HTML text (also safe inside double- or single-quoted attribute values). */
export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);
}

type Part = Html | string | number | boolean | null | undefined | Part[];

function render(v: Part): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return esc(v);
}

/** html`<p>${text}</p>`: text is escaped, Html and arrays of Html are inserted as they are. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** HTML made elsewhere and known to be safe (e.g. the QR code's SVG). */
export const trusted = (s: string) => new Html(s);

/** a URL path segment */
export const seg = (s: string | number) => encodeURIComponent(String(s));

export function fmtTime(ms: number | null | undefined): string {
  if (!ms) return '';
  const d = new Date(ms);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}`;
}

/** "3 s ago", "5 min ago" */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** "+0.123 s" relative to t0 */
export function rel(t: number, t0: number): string {
  const d = (t - t0) / 1000;
  return `+${d < 10 ? d.toFixed(3) : d.toFixed(1)} s`;
}
