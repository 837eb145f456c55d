// Helpers for the relay tests: wait for a condition, read a user's INBOX through the store,
// put a message into the queue as the SMTP listeners do.
import type { Lab } from '../helpers/lab.js';
import type { Store } from '../../src/store/types.js';

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The raw messages in a user's mailbox, oldest first. */
export async function inbox(store: Store, address: string, mailbox = 'INBOX'): Promise<Buffer[]> {
  const u = await store.users.get(address);
  if (!u) throw new Error(`no user ${address}`);
  const mb = await store.mailboxes.get(u.id, mailbox);
  if (!mb) return [];
  const out: Buffer[] = [];
  for (const m of await store.messages.list(mb.id)) out.push(await store.messages.raw(m.blobId));
  return out;
}

let n = 0;

/** Queue a message for remote recipients the way the submission listener does. */
export async function enqueue(lab: Lab | { po: { store: Store } }, mailFrom: string, rcpts: string[], opts: { subject?: string; user?: string | null; body?: string; notify?: Record<string, string[]> } = {}): Promise<{ msgId: string; messageId: string }> {
  const msgId = `test${process.pid}.${++n}`;
  const messageId = `<${msgId}@relay.test>`;
  const raw = Buffer.from([
    `Received: from test (localhost [127.0.0.1]) by test (postoffice) with ESMTPA id ${msgId}; ${new Date().toUTCString()}`,
    `From: <${mailFrom || 'mailer-daemon@relay.test'}>`, `To: ${rcpts.map((r) => `<${r}>`).join(', ')}`, `Subject: ${opts.subject ?? 'relay test ' + n}`,
    `Message-ID: ${messageId}`, `Date: ${new Date().toUTCString()}`, '', opts.body ?? 'hello over the relay', '',
  ].join('\r\n'));
  await lab.po.store.deliver({
    msgId, mailFrom, raw, relayRaw: raw, local: [], remote: rcpts, journey: [{ msgId, agent: 'MTA in', step: 'received', details: {} }],
    queueData: { user: opts.user === undefined ? mailFrom || null : opts.user, notify: opts.notify ?? {} },
  });
  return { msgId, messageId };
}
