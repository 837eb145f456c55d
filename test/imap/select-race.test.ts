// A change announced while SELECT is still reading the mailbox's view, and missing from that view,
// must still reach the session. With PostgreSQL the store's reads are network round trips: a NOTIFY
// for a delivery can arrive before the query that did not see it answers. Here a store wrapper makes
// that happen on purpose: its view() reads the mailbox, then lets a delivery commit and be announced,
// then answers with the view read before it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startImap } from '../../src/imap/index.js';
import { silentLogger } from '../../src/log/log.js';
import type { MailboxChange, Store } from '../../src/store/index.js';
import net from 'node:net';
import { fixture, lineReader, startLab } from '../helpers/lab.js';

test('RFC 3501 §7.3.1: a delivery announced while SELECT reads its view is reported as EXISTS, not lost', async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const real = lab.po.store;
  let armed = true;
  const view = async (id: number) => {
    const v = await real.mailboxes.view(id);
    if (armed) {
      armed = false;
      const heard = new Promise<void>((resolve) => {
        const f = (c: MailboxChange) => { if (c.kind === 'exists') { real.events.off('change', f); resolve(); } };
        real.events.on('change', f);
      });
      await lab.deliver('bob@example.test', fixture('plain.eml'));
      await heard; // announced before the (older) view is answered
    }
    return v;
  };
  const mailboxes = new Proxy(real.mailboxes, { get: (o, k) => (k === 'view' ? view : Reflect.get(o, k)) });
  const store = new Proxy(real, { get: (o, k) => (k === 'mailboxes' ? mailboxes : Reflect.get(o, k)) }) as Store;
  const h = await startImap({ listener: 'imap', config: lab.config, store, auth: lab.po.auth, tls: lab.po.tls, log: silentLogger }, 0, '127.0.0.1');
  t.after(() => h.close());
  const sock = await new Promise<net.Socket>((resolve) => { const x = net.connect(h.port, '127.0.0.1', () => resolve(x)); });
  t.after(() => sock.destroy());
  const r = lineReader(sock);
  let n = 0;
  /** the untagged lines of one command, up to its tagged OK */
  const ok = async (cmd: string): Promise<string[]> => {
    const tag = `t${++n}`;
    sock.write(`${tag} ${cmd}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const l = await r.next();
      if (l.startsWith(`${tag} `)) { assert.match(l, new RegExp(`^${tag} OK`), `${cmd}: ${l}`); return lines; }
      lines.push(l);
    }
  };
  await r.next(); // greeting
  await ok('LOGIN bob@example.test pw');
  const selected = await ok('SELECT INBOX');
  assert.ok(selected.includes('* 1 EXISTS'), selected.join('\n'));
  assert.equal(armed, false, 'the delivery came during the view');
  // RFC 3501 §7.3.1: the client's count follows the untagged EXISTS it is sent (at the end of SELECT's
  // answer or at the NOOP)
  const seen = [...selected, ...(await ok('NOOP'))].filter((l) => / EXISTS$/.test(l));
  assert.equal(seen[seen.length - 1], '* 2 EXISTS', `the delivery announced during SELECT is reported: ${seen.join(' | ')}`);
  assert.deepEqual((await ok('UID SEARCH ALL')).filter((l) => l.startsWith('* SEARCH')), ['* SEARCH 1 2']);
});
