// Lab: a message's journey as a timeline, labelled with the roles of the mail path:
// sender -> MUA -> MTA -> MTA -> ... -> MDA <- MUA <- recipient.
import type { JourneyRow } from '../store/index.js';

const ROLE: Record<string, string> = {
  MUA: 'MUA        ', 'MTA in': 'MTA (in)   ', 'MTA out': 'MTA (out)  ', MDA: 'MDA        ', 'MUA access': 'MDA <- MUA ',
};

function fmtDetails(d: Record<string, unknown>): string {
  return Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}

/** Plain-text timeline: one line per event, time relative to the first. */
export function formatTrace(rows: JourneyRow[]): string {
  if (rows.length === 0) return '';
  const t0 = rows[0].time;
  const ids = [...new Set(rows.map((r) => r.msgId))];
  const mid = rows.find((r) => r.messageId)?.messageId;
  const out = [`journey of ${ids.join(', ')}${mid ? `  Message-ID ${mid}` : ''}`, `  started ${new Date(t0).toISOString()}`];
  for (const r of rows) {
    const dt = `+${((r.time - t0) / 1000).toFixed(3)}s`.padStart(10);
    out.push(`${dt}  ${ROLE[r.agent] ?? r.agent.padEnd(11)} ${r.step.padEnd(10)} ${fmtDetails(r.details)}`);
  }
  const path = ['sender', ...rows.map((r) => (r.agent === 'MUA access' ? 'MUA <- recipient' : r.agent.replace(' in', '').replace(' out', '')))]
    .filter((v, i, a) => i === 0 || v !== a[i - 1]);
  out.push(`  path: ${path.join(' -> ').replace(/MDA -> MUA <- recipient/, 'MDA <- MUA <- recipient')}`);
  return out.join('\n');
}
