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
