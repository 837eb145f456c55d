// Rows to records: the PostgreSQL columns the store reads, as the Store interface's types.
import type { MailboxRecord, MessageRecord, UserRecord } from '../types.js';
import type { Row } from './db.js';

export function mailboxRow(r: Row): MailboxRecord {
  return {
    id: r.id as number, userId: r.user_id as number, name: r.name as string, specialUse: (r.special_use as string) ?? null,
    subscribed: !!r.subscribed, uidValidity: r.uidvalidity as number, uidNext: r.uidnext as number, highestModseq: r.highestmodseq as number,
  };
}

export function messageRow(r: Row): MessageRecord {
  return {
    uid: r.uid as number, modseq: r.modseq as number, flags: r.flags as string[], internalDate: r.internal_date as number,
    size: r.size as number, blobId: r.blob_id as number, msgId: (r.msg_id as string) ?? null,
  };
}

export function userRow(r: Row): UserRecord {
  return { id: r.id as number, address: r.address as string, domain: r.domain as string, created: r.created as number, admin: !!r.admin };
}

/** SQL for a UID as 4 bytes (int4 is signed: shifted by 2^31, so that UIDs up to 2^32 - 1 fit); string_agg makes many one bytea */
export function uidBytes(column = 'uid'): string {
  return `int4send((${column} - 2147483648)::int)`;
}

/** UIDs sent as uidBytes(), as a vector (in the order sent): a million arrive in milliseconds, not as a million rows */
export function uidVector(b: Buffer | null): Uint32Array {
  if (!b) return new Uint32Array(0);
  const out = new Uint32Array(b.length >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = (b.readUInt32BE(i * 4) ^ 0x80000000) >>> 0;
  return out;
}
