// Lab: one message's journey across several post offices. Each post office keeps the steps of
// its own agents; the whole path is their rows joined by the Message-ID header (the one id that
// travels with the message from MTA to MTA), in time order.
import type { JourneyRow, Store } from '../store/index.js';

/** A journey row and the post office that recorded it. */
export interface OfficeRow extends JourneyRow { office: string }

export interface OfficeStore { name: string; store: Store }

/** Every office's rows of the message `id` (our id at any office, or the Message-ID), in time order. */
export async function joinedTrace(offices: OfficeStore[], id: string): Promise<OfficeRow[]> {
  const first = await Promise.all(offices.map((o) => o.store.journey.trace(id)));
  // our ids are local to one office: the Message-ID finds the message at the others
  const messageId = first.flat().find((r) => r.messageId)?.messageId ?? null;
  const out: OfficeRow[] = [];
  for (const [i, o] of offices.entries()) {
    const rows = messageId && messageId !== id ? [...first[i], ...(await o.store.journey.trace(messageId))] : first[i];
    const seen = new Set<string>();
    for (const r of rows) {
      const key = `${r.msgId}/${r.id}/${r.step}/${r.time}`;
      if (!seen.has(key)) { seen.add(key); out.push({ ...r, office: o.name }); }
    }
  }
  return out.sort((a, b) => a.time - b.time || (a.office === b.office ? a.id - b.id : 0));
}
