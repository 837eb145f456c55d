// SMTP smuggling (and its relatives): only <CRLF>.<CRLF> ends DATA; a second MAIL FROM hidden
// behind <LF>.<LF>, <CR>.<CR>, <LF>.<CRLF> or <CRLF>.<LF> never becomes a second message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineReader, startLab } from '../helpers/lab.js';

const VARIANTS: [string, string][] = [['LF.LF', '\n.\n'], ['CR.CR', '\r.\r'], ['LF.CRLF', '\n.\r\n'], ['CRLF.LF', '\r\n.\n']];

test('smuggled second messages stay inside the first, normalised to CRLF', async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'pw' } });
  for (const [name, sep] of VARIANTS) {
    const sock = await lab.connect('smtp');
    const r = lineReader(sock);
    const reply = async () => { for (;;) { const l = await r.next(); if (l[3] !== '-') return l; } };
    await reply();
    sock.write('EHLO attacker.test\r\n'); await reply();
    sock.write('MAIL FROM:<a@attacker.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n');
    assert.match(await reply(), /^250/); assert.match(await reply(), /^250/); assert.match(await reply(), /^354/);
    sock.write(`Subject: smuggle ${name}\r\n\r\nhello${sep}MAIL FROM:<admin@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n`);
    assert.match(await reply(), /^250 2\.6\.0 Ok: queued as /);
    sock.write('QUIT\r\n');
    assert.match(await reply(), /^221/);
    sock.destroy();
  }
  const u = (await lab.po.store.users.get('alice@example.test'))!;
  const mb = (await lab.po.store.mailboxes.get(u.id, 'INBOX'))!;
  const msgs = await lab.po.store.messages.list(mb.id);
  assert.equal(msgs.length, VARIANTS.length, 'exactly one message per attempt');
  for (const m of msgs) {
    const raw = (await lab.po.store.messages.raw(m.blobId)).toString('latin1');
    assert.doesNotMatch(raw, /[^\r]\n|\r[^\n]/, 'no bare LF or CR is stored');
    assert.match(raw, /\r\n\.\r\nMAIL FROM:<admin@example\.test>\r\n/, 'the smuggled command is body text of the first message');
  }
});
