// "A 250 means the mail survives a crash": kill -9 the server while 8 sessions deliver,
// restart it, and find every acknowledged message exactly once, none half-stored.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/index.js';
import { lineReader } from '../helpers/lab.js';
import { freePort, seedDataDir, startServe } from '../helpers/process.js';

/** One SMTP session sending messages until the connection dies; returns the Message-IDs acknowledged with 250. */
async function sender(port: number, worker: number, acked: Set<string>, stopAt: number): Promise<void> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  sock.on('error', () => undefined);
  const r = lineReader(sock, 5000);
  const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
  try {
    await reply();
    sock.write('EHLO crash.test\r\n'); await reply();
    for (let i = 0; Date.now() < stopAt; i++) {
      const mid = `<w${worker}.m${i}@crash.test>`;
      sock.write(`MAIL FROM:<load@crash.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n`);
      if (!(await reply()).startsWith('250') || !(await reply()).startsWith('250') || !(await reply()).startsWith('354')) return;
      sock.write(`Message-ID: ${mid}\r\nSubject: crash test ${worker}/${i}\r\n\r\n${'body line\r\n'.repeat(50)}.\r\n`);
      const l = await reply();
      if (l.startsWith('250')) acked.add(mid);
      if (i % 50 === 49) { sock.write('RSET\r\n'); await reply(); }
    }
  } catch {
    // the server was killed: whatever was not acknowledged may be lost
  } finally {
    sock.destroy();
  }
}

test('SIGKILL during delivery: every acknowledged message is there exactly once after restart', async (t) => {
  const dataDir = await seedDataDir(t, 'crash', { 'bob@example.test': 'pw' });

  const srv = await startServe(dataDir);
  t.after(() => srv.stop('SIGKILL'));
  const acked = new Set<string>();
  const stopAt = Date.now() + 45_000;
  const senders = Array.from({ length: 8 }, (_, w) => sender(srv.ports.smtp, w, acked, stopAt));
  // let mail flow, then pull the plug
  while (acked.size < 1500 && Date.now() < stopAt) await new Promise((r) => setTimeout(r, 20));
  await srv.stop('SIGKILL');
  await Promise.all(senders);
  assert.ok(acked.size >= 500, `enough mail was acknowledged before the kill (${acked.size})`);

  // restart on the same data; every acknowledged Message-ID is found once by IMAP SEARCH
  const again = await startServe(dataDir, { POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true' }, { ...srv.ports, imap: await freePort() });
  t.after(() => again.stop('SIGKILL'));
  const imap = net.connect({ port: again.ports.imap, host: '127.0.0.1' });
  const ir = lineReader(imap);
  const cmd = async (tag: string, text: string): Promise<string[]> => {
    imap.write(`${tag} ${text}\r\n`);
    const out: string[] = [];
    for (let l = await ir.next(); ; l = await ir.next()) {
      if (l.startsWith(tag + ' ')) { assert.match(l, new RegExp(`^${tag} OK`)); return out; }
      out.push(l);
    }
  };
  await ir.next();
  await cmd('a', 'LOGIN bob@example.test pw');
  await cmd('b', 'SELECT INBOX');
  // every Message-ID in the mailbox, counted; and IMAP SEARCH by Message-ID for a sample
  const fetched = await cmd('f', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])');
  const foundByImap = new Map<string, number>();
  for (const m of fetched.join('\n').matchAll(/Message-ID: (<[^>]+>)/gi)) foundByImap.set(m[1], (foundByImap.get(m[1]) ?? 0) + 1);
  for (const mid of [...acked].filter((_, i) => i % 15 === 0)) {
    const lines = await cmd('s', `UID SEARCH HEADER Message-ID "${mid}"`);
    const uids = (lines.find((l) => l.startsWith('* SEARCH')) ?? '* SEARCH').split(' ').slice(2);
    assert.equal(uids.length, 1, `SEARCH finds ${mid} once`);
  }
  for (const mid of acked) if (!foundByImap.has(mid)) foundByImap.set(mid, 0);
  imap.destroy();
  await again.stop('SIGTERM');
  const lostByImap = [...acked].filter((mid) => foundByImap.get(mid) === 0).length;
  const twiceByImap = [...foundByImap].filter(([, c]) => c > 1).length;
  t.diagnostic(`IMAP SEARCH by Message-ID: ${acked.size} acknowledged, ${lostByImap} not found, ${twiceByImap} found more than once`);
  assert.equal(lostByImap, 0);
  assert.equal(twiceByImap, 0);
  const store = new SqliteStore({ dataDir });
  t.after(() => store.close());
  const bob = (await store.users.get('bob@example.test'))!;
  const inbox = (await store.mailboxes.get(bob.id, 'INBOX'))!;
  const seen = new Map<string, number>();
  for (const m of await store.messages.list(inbox.id)) {
    const meta = await store.messages.meta(m.blobId);
    const raw = await store.messages.raw(m.blobId);
    assert.ok(raw.toString('latin1').endsWith('body line\r\n'), 'no message is half-stored');
    seen.set(meta.messageId!, (seen.get(meta.messageId!) ?? 0) + 1);
  }
  const lost = [...acked].filter((id) => !seen.has(id));
  const duplicated = [...seen].filter(([, n]) => n > 1);
  t.diagnostic(`acknowledged ${acked.size}, found ${seen.size}, lost ${lost.length}, duplicated ${duplicated.length}`);
  assert.deepEqual(lost, [], 'nothing acknowledged is lost');
  assert.deepEqual(duplicated, [], 'nothing is stored twice');
});
