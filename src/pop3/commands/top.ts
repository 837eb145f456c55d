import { StoreError } from '../../store/index.js';
import { topOf } from '../body.js';
import { Pop3Err } from '../errors.js';
import type { Pop3Session } from '../session.js';
import type { Pop3Command } from '../types.js';

/** The stored bytes of a message; gone (expunged by IMAP meanwhile) is an -ERR, not a crash. */
export async function messageBytes(s: Pop3Session, blobId: number): Promise<Buffer> {
  try {
    return await s.store.messages.raw(blobId);
  } catch (err) {
    if (err instanceof StoreError && err.reason === 'notfound') throw new Pop3Err('message is no longer available');
    throw err;
  }
}

// RFC 1939 §7 TOP: the header, the blank line and the first n lines of the body.
export const top: Pop3Command<'TOP'> = {
  states: ['transaction'],
  async run(s, { msg, lines }) {
    const m = s.maildrop.live(msg);
    if (!m) throw new Pop3Err('no such message');
    const raw = await messageBytes(s, m.blobId);
    return { ok: 'top of message follows', message: topOf(raw, lines) };
  },
};
