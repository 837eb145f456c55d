// Rows as the store interface returns them.
import type { MailboxRecord, MessageRecord, QueueEntry, QueueRcpt, UserRecord } from '../types.js';
import { leaseOf } from './leases.js';
import type { Row } from './open.js';

/** flags are stored as one space-separated column */
export function splitFlags(s: string): string[] {
  return s ? s.split(' ') : [];
}
export function joinFlags(flags: Iterable<string>): string {
  return [...new Set(flags)].join(' ');
}

export function mailboxRow(r: Row): MailboxRecord {
  return {
    id: r.id as number, userId: r.user_id as number, name: r.name as string, specialUse: (r.special_use as string) ?? null,
    subscribed: !!r.subscribed, uidValidity: r.uidvalidity as number, uidNext: r.uidnext as number, highestModseq: r.highestmodseq as number,
  };
}

export function messageRow(r: Row): MessageRecord {
  return {
    uid: r.uid as number, modseq: r.modseq as number, flags: splitFlags(r.flags as string), internalDate: r.internal_date as number,
    size: r.size as number, blobId: r.blob_id as number, msgId: (r.msg_id as string) ?? null,
  };
}

export function userRow(r: Row): UserRecord {
  return { id: r.id as number, address: r.address as string, domain: r.domain as string, created: r.created as number, admin: !!r.admin };
}

export function queueRow(r: Row): QueueEntry {
  return {
    id: r.id as number, msgId: r.msg_id as string, blobId: r.blob_id as number, mailFrom: r.mail_from as string, domain: r.domain as string,
    rcpts: JSON.parse(r.rcpts as string) as QueueRcpt[], attempts: r.attempts as number, nextAttempt: r.next_attempt as number,
    lastReply: (r.last_reply as string) ?? null, status: r.status as QueueEntry['status'], data: JSON.parse(r.data as string) as QueueEntry['data'],
    created: r.created as number, updated: r.updated as number, size: (r.size as number) ?? 0, ...leaseOf(r),
  };
}
