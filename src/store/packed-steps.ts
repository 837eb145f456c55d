// "MDA <- MUA" steps cross to the writer thread in columns: a FETCH of 5,000 messages posts one
// string and two typed arrays instead of 5,000 objects to clone (and to walk again there).
import type { AccessStep } from './types.js';

export interface PackedSteps {
  packed: 'access-steps';
  /** our message ids, joined by "\n" (they never contain one) */
  ids: string;
  uids: Float64Array;
  /** the mailbox of every step when they share one (one FETCH, one POP3 session), else each */
  mailbox: string | null;
  mailboxes: (string | null)[] | null;
  times: Float64Array | null;
}

export function packSteps(steps: AccessStep[]): PackedSteps {
  const n = steps.length;
  const uids = new Float64Array(n);
  const first = n ? steps[0].mailbox : null;
  let same = true;
  let timed = false;
  for (let i = 0; i < n; i++) {
    uids[i] = steps[i].uid;
    if (steps[i].mailbox !== first) same = false;
    if (steps[i].time !== undefined) timed = true;
  }
  let times: Float64Array | null = null;
  if (timed) {
    times = new Float64Array(n);
    for (let i = 0; i < n; i++) times[i] = steps[i].time ?? Number.NaN;
  }
  return {
    packed: 'access-steps',
    ids: steps.map((s) => s.msgId).join('\n'),
    uids,
    mailbox: same ? first : null,
    mailboxes: same ? null : steps.map((s) => s.mailbox),
    times,
  };
}

export function isPackedSteps(v: unknown): v is PackedSteps {
  return !!v && typeof v === 'object' && (v as { packed?: unknown }).packed === 'access-steps';
}

export function unpackSteps(p: PackedSteps): AccessStep[] {
  if (p.uids.length === 0) return [];
  const ids = p.ids.split('\n');
  const out: AccessStep[] = new Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const step: AccessStep = { msgId: ids[i], uid: p.uids[i], mailbox: p.mailboxes ? p.mailboxes[i] : p.mailbox };
    if (p.times && !Number.isNaN(p.times[i])) step.time = p.times[i];
    out[i] = step;
  }
  return out;
}
