// MDA on PostgreSQL: DESIGN "the one transaction": the blob, every local recipient's copy, the
// queue entries for remote recipients, the journey and the submission count commit together.
// Group commit: deliveries that arrive while earlier ones commit join the next transaction, so
// a busy mailbox, whose row lock is held until COMMIT, takes many messages per commit.
import { createHash } from 'node:crypto';
import { toCrlf } from '../../mail/dot-stuffing.js';
import { InternalError } from '../../mail/errors.js';
import { analyze } from '../analyze.js';
import { StoreError } from '../errors.js';
import type { BlobMeta, Delivery, DeliveryResult, JourneyEvent, QueueRcpt } from '../types.js';
import type { Pg } from './context.js';
import { txt, type PgTx } from './db.js';
import { insertCopy, lockMailboxes, putBlob } from './copies.js';
import { insertJourney } from './journey.js';
import { createMailboxTx } from './mailboxes.js';

/** deliveries committed together at most, and batches committing at once (each on its own connection) */
const DELIVERY_BATCH_MAX = 32;
const DELIVERY_BATCH_RUNNERS = 4;

type Outcome = { ok: true; value: DeliveryResult } | { ok: false; err: unknown };
/** a job of a batch run without savepoints failed: the batch runs again, with them */
class OneFailed extends Error {
  readonly passThrough = true; // db.tx hands it back as it is
  constructor(readonly failure: unknown) { super('a delivery of the batch failed'); }
}

/** a delivery's mailbox, found before the batch locks them all */
interface Target { address: string; id: number; name: string }
interface PendingDelivery {
  d: Delivery & { raw: Buffer };
  meta: BlobMeta;
  relayRaw: Buffer | null;
  relayMeta: BlobMeta;
  sha: string;
  resolve: (r: DeliveryResult) => void;
  reject: (e: unknown) => void;
}

/** the deliveries waiting for a batch, and the batches committing now */
export class GroupCommit {
  readonly pending: PendingDelivery[] = [];
  runners = 0;
}

/**
 * One delivery: parsed here, then committed with whatever deliveries wait beside it (a batch is
 * taken back and run again with a savepoint each if one of its deliveries fails, so that it fails alone).
 */
export async function deliver(pg: Pg, given: Delivery): Promise<DeliveryResult> {
  const d = { ...given, raw: toCrlf(given.raw), relayRaw: given.relayRaw && toCrlf(given.relayRaw) };
  const meta = await analyze(d.raw, pg.mimeLimits);
  const relayRaw = d.remote.length ? d.relayRaw ?? d.raw : null;
  const relayMeta = relayRaw && relayRaw !== d.raw ? await analyze(relayRaw, pg.mimeLimits) : meta;
  const sha = createHash('sha256').update(d.raw).digest('hex');
  const result = await new Promise<DeliveryResult>((resolve, reject) => {
    pg.group.pending.push({ d, meta, relayRaw, relayMeta, sha, resolve, reject });
    if (pg.group.runners < DELIVERY_BATCH_RUNNERS) void runDeliveries(pg);
  });
  if (result.queued.length) pg.events.emit('queued');
  return result;
}

/** Takes waiting deliveries in batches, one transaction each, until none wait. */
async function runDeliveries(pg: Pg): Promise<void> {
  pg.group.runners++;
  try {
    while (pg.group.pending.length) {
      const jobs = pg.group.pending.splice(0, DELIVERY_BATCH_MAX);
      let outcomes: Outcome[];
      try {
        // first without a savepoint per job (they cost two round trips each); if one job fails,
        // the batch is taken back and run again with savepoints, so that it fails alone
        outcomes = await pg.db.tx((t) => deliveryBatch(t, jobs, false)).catch((err: unknown) => {
          if (err instanceof OneFailed) { pg.stats.isolatedRetries++; return pg.db.tx((t) => deliveryBatch(t, jobs, true)); }
          throw err;
        });
      } catch (err) {
        for (const j of jobs) j.reject(err);
        continue;
      }
      pg.stats.deliveryCommits++;
      pg.stats.deliveries += jobs.length;
      jobs.forEach((j, i) => {
        const o = outcomes[i];
        if (o.ok) j.resolve(o.value);
        else j.reject(o.err);
      });
    }
  } finally {
    pg.group.runners--;
  }
}

/** One batch in one transaction: with `isolated`, a savepoint per job, and a job that fails fails alone. */
async function deliveryBatch(t: PgTx, jobs: PendingDelivery[], isolated: boolean): Promise<Outcome[]> {
  const single = jobs.length === 1;
  /** runs one job's part; a failure: the job's outcome (isolated), else the whole batch again, isolated */
  const guarded = async <T>(run: () => Promise<T>): Promise<T | { failed: unknown }> => {
    if (single) return run();
    if (!isolated) {
      try { return await run(); } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === '40P01' || code === '40001') throw err; // db.tx runs the batch again
        throw new OneFailed(err);
      }
    }
    const mark = t.changes.length;
    const queued = t.queued;
    await t.run('SAVEPOINT delivery');
    try {
      const v = await run();
      await t.run('RELEASE SAVEPOINT delivery');
      return v;
    } catch (err) {
      // a deadlock ends the whole batch (db.tx runs it again); so does a lost connection (the rollback fails)
      const code = (err as { code?: string }).code;
      if (code === '40P01' || code === '40001') throw err;
      await t.run('ROLLBACK TO SAVEPOINT delivery');
      await t.run('RELEASE SAVEPOINT delivery');
      t.changes.length = mark;
      t.queued = queued;
      return { failed: err instanceof StoreError || err instanceof InternalError ? err : new InternalError('STORE_WRITE_FAILED', `delivery failed: ${(err as Error).message}`, { cause: err }) };
    }
  };
  const failed = (v: unknown): v is { failed: unknown } => !!v && typeof v === 'object' && 'failed' in v;
  // every target of the batch first, then all locked in id order: batches never wait on each other in a cycle
  const targets: (Target[] | { failed: unknown })[] = [];
  for (const j of jobs) targets.push(await guarded(() => deliveryTargets(t, j.d)));
  if (!isolated) {
    // the common case, in two passes so that the mailboxes stay locked for as short a time as can be:
    // the bytes and queue entries of every delivery first, then the locks, then the copies
    const parts: { blobId: number; result: DeliveryResult }[] = [];
    for (let i = 0; i < jobs.length; i++) parts.push(await guarded(() => deliverBytes(t, jobs[i], targets[i] as Target[])) as { blobId: number; result: DeliveryResult });
    await lockMailboxes(t, targets.flatMap((x) => (x as Target[]).map((y) => y.id)));
    const out: Outcome[] = [];
    for (let i = 0; i < jobs.length; i++) {
      t.mergeFrom = t.changes.length;
      out.push({ ok: true, value: await guarded(() => deliverCopies(t, jobs[i], targets[i] as Target[], parts[i])) as DeliveryResult });
    }
    return out;
  }
  await lockMailboxes(t, targets.flatMap((x) => (failed(x) ? [] : x.map((y) => y.id))));
  const out: Outcome[] = [];
  for (let i = 0; i < jobs.length; i++) {
    const tg = targets[i];
    if (failed(tg)) { out.push({ ok: false, err: tg.failed }); continue; }
    // this job's changes start here (never merged into an earlier job's: they may be taken back)
    t.mergeFrom = t.changes.length;
    const r = await guarded(() => deliverTx(t, jobs[i], tg));
    out.push(failed(r) ? { ok: false, err: r.failed } : { ok: true, value: r });
  }
  return out;
}

/** The mailbox of every local recipient: a name, or a special use (\Junk: whatever the user's junk mailbox is called now); else INBOX. */
async function deliveryTargets(t: PgTx, d: Delivery): Promise<Target[]> {
  const targets: Target[] = [];
  for (const rcpt of d.local) {
    const want = rcpt.mailbox ?? 'INBOX';
    let mb = want.startsWith('\\')
      ? await t.one('SELECT id, name FROM mailboxes WHERE user_id = $1 AND special_use = $2 ORDER BY id LIMIT 1', [rcpt.userId, want])
      : await t.one('SELECT id, name FROM mailboxes WHERE user_id = $1 AND name = $2', [rcpt.userId, txt(want)]);
    mb ??= await t.one(`SELECT id, name FROM mailboxes WHERE user_id = $1 AND name = 'INBOX'`, [rcpt.userId]);
    if (!mb) mb = { id: (await createMailboxTx(t, rcpt.userId, 'INBOX', null, true)).id, name: 'INBOX' };
    targets.push({ address: rcpt.address, id: mb.id as number, name: mb.name as string });
  }
  return targets;
}

/** One delivery inside the batch's transaction; its target mailboxes are locked already. */
async function deliverTx(t: PgTx, job: PendingDelivery, targets: Target[]): Promise<DeliveryResult> {
  return deliverCopies(t, job, targets, await deliverBytes(t, job, targets));
}

/** A delivery's part that needs no mailbox lock: the bytes (for the mailboxes, for the relay) and the queue entries. */
async function deliverBytes(t: PgTx, job: PendingDelivery, targets: Target[]): Promise<{ blobId: number; result: DeliveryResult }> {
  const { d, meta, relayRaw, relayMeta, sha } = job;
  const result: DeliveryResult = { stored: [], queued: [], messageId: meta.messageId };
  const now = Date.now();
  const blobId = targets.length ? await putBlob(t, d.raw, meta, targets.length, sha, true) : 0;
  if (relayRaw && d.remote.length) {
    const byDomain = new Map<string, string[]>();
    for (const r of d.remote) {
      const dom = r.slice(r.lastIndexOf('@') + 1).toLowerCase();
      byDomain.set(dom, [...(byDomain.get(dom) ?? []), r]);
    }
    const relayBlob = await putBlob(t, relayRaw, relayMeta, byDomain.size);
    for (const [domain, rcpts] of byDomain) {
      const q: QueueRcpt[] = rcpts.map((address) => ({ address, status: 'pending' }));
      const row = await t.one(`INSERT INTO queue (msg_id, blob_id, mail_from, domain, rcpts, next_attempt, data, created, updated)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [txt(d.msgId), relayBlob, txt(d.mailFrom), txt(domain), JSON.stringify(q), now, JSON.stringify(d.queueData ?? {}), now, now]);
      result.queued.push({ id: row!.id as number, domain, rcpts });
    }
    t.queued = true;
  }
  return { blobId, result };
}

/** A delivery's part under the mailbox locks: the copies (UIDs, MODSEQs), the journey, the submission count. */
async function deliverCopies(t: PgTx, job: PendingDelivery, targets: Target[], part: { blobId: number; result: DeliveryResult }): Promise<DeliveryResult> {
  const { d, meta } = job;
  const { result, blobId } = part;
  const now = Date.now();
  for (const { address, id, name } of targets) {
    const uid = await insertCopy(t, id, blobId, d.raw.length, d.flags ?? [], d.internalDate ?? now, d.msgId);
    result.stored.push({ address, mailbox: name, uid, mailboxId: id });
  }
  // the message's own steps get its Message-ID; steps about another message (a report carries its original's) keep theirs
  const journey: JourneyEvent[] = d.journey.map((e) => (e.msgId === d.msgId ? { ...e, messageId: e.messageId ?? meta.messageId } : e));
  for (const s of result.stored) {
    journey.push({ msgId: d.msgId, messageId: meta.messageId, agent: 'MDA', step: 'stored', details: { user: s.address, mailbox: s.mailbox, uid: s.uid } });
  }
  for (const q of result.queued) {
    journey.push({ msgId: d.msgId, messageId: meta.messageId, agent: 'MTA out', step: 'queued', details: { queueId: q.id, domain: q.domain, rcpts: q.rcpts } });
  }
  await insertJourney(t, journey);
  if (d.submission) {
    await t.run('INSERT INTO submissions (user_id, time, recipients, msg_id) VALUES ($1, $2, $3, $4)', [d.submission.userId, now, d.submission.recipients, txt(d.msgId)]);
    await t.run('DELETE FROM submissions WHERE user_id = $1 AND time < $2', [d.submission.userId, now - 86_400_000]);
  }
  return result;
}
