// MDA: DESIGN "the one transaction": the blob, every local recipient's copy, the queue entries
// for remote recipients, the journey and the submission count commit together (group-committed).
import { toCrlf } from '../../mail/dot-stuffing.js';
import { analyze } from '../analyze.js';
import type { Delivery, DeliveryResult, JourneyEvent, QueueRcpt } from '../types.js';
import { insertCopy, insertJourney, putBlob } from './copies.js';
import { createMailbox } from './mailboxes.js';
import type { Row } from './open.js';
import { recordSubmission } from './submissions.js';
import type { Writer } from './writer.js';

export async function deliver(w: Writer, given: Delivery): Promise<DeliveryResult> {
  // stored line ends are always CRLF (RFC 5322 §2.3), so a copy's size is what IMAP and POP3 send
  const d = { ...given, raw: toCrlf(given.raw), relayRaw: given.relayRaw && toCrlf(given.relayRaw) };
  const meta = await analyze(d.raw, w.mimeLimits);
  const relayRaw = d.remote.length ? d.relayRaw ?? d.raw : null;
  const relayMeta = relayRaw && relayRaw !== d.raw ? await analyze(relayRaw, w.mimeLimits) : meta;
  const result = await w.write((tx) => {
    const result: DeliveryResult = { stored: [], queued: [], messageId: meta.messageId };
    const now = Date.now();
    if (d.local.length) {
      const blobId = putBlob(tx, d.raw, meta, d.local.length);
      for (const rcpt of d.local) {
        const want = rcpt.mailbox ?? 'INBOX';
        // a name, or a special use (\Junk: whatever the user's junk mailbox is called now)
        let mb = (want.startsWith('\\')
          ? tx.st('SELECT id, name FROM mailboxes WHERE user_id = ? AND special_use = ? ORDER BY id LIMIT 1').get(rcpt.userId, want)
          : tx.st('SELECT id, name FROM mailboxes WHERE user_id = ? AND name = ?').get(rcpt.userId, want)) as Row | undefined;
        mb ??= tx.st(`SELECT id, name FROM mailboxes WHERE user_id = ? AND name = 'INBOX'`).get(rcpt.userId) as Row | undefined;
        if (!mb) mb = { id: createMailbox(tx, rcpt.userId, 'INBOX', null, true).id, name: 'INBOX' };
        const uid = insertCopy(tx, mb.id as number, blobId, d.raw.length, d.flags ?? [], d.internalDate ?? now, d.msgId);
        result.stored.push({ address: rcpt.address, mailbox: mb.name as string, uid, mailboxId: mb.id as number });
      }
    }
    if (relayRaw && d.remote.length) {
      const byDomain = new Map<string, string[]>();
      for (const r of d.remote) {
        const dom = r.slice(r.lastIndexOf('@') + 1).toLowerCase();
        byDomain.set(dom, [...(byDomain.get(dom) ?? []), r]);
      }
      // bytes only the queue holds are never searched: no indexed header text for them
      const blobId = putBlob(tx, relayRaw, { ...relayMeta, headerText: null }, byDomain.size);
      const ins = tx.st(`INSERT INTO queue (msg_id, blob_id, mail_from, domain, rcpts, next_attempt, data, created, updated)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`);
      for (const [domain, rcpts] of byDomain) {
        const q: QueueRcpt[] = rcpts.map((address) => ({ address, status: 'pending' }));
        const row = ins.get(d.msgId, blobId, d.mailFrom, domain, JSON.stringify(q), now, JSON.stringify(d.queueData ?? {}), now, now) as Row;
        result.queued.push({ id: row.id as number, domain, rcpts });
      }
    }
    // the message's own steps get its Message-ID; steps about another message (a report carries its original's) keep theirs
    const journey: JourneyEvent[] = d.journey.map((e) => (e.msgId === d.msgId ? { ...e, messageId: e.messageId ?? meta.messageId } : e));
    for (const s of result.stored) {
      journey.push({ msgId: d.msgId, messageId: meta.messageId, agent: 'MDA', step: 'stored', details: { user: s.address, mailbox: s.mailbox, uid: s.uid } });
    }
    for (const q of result.queued) {
      journey.push({ msgId: d.msgId, messageId: meta.messageId, agent: 'MTA out', step: 'queued', details: { queueId: q.id, domain: q.domain, rcpts: q.rcpts } });
    }
    insertJourney(tx, journey);
    if (d.submission) recordSubmission(tx, d.submission.userId, now, d.submission.recipients, d.msgId);
    return result;
  });
  if (result.queued.length) w.events.emit('queued');
  return result;
}
