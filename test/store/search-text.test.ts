// The decoded text SEARCH BODY/TEXT reads (src/store/analyze.ts): for a single text/plain part the
// SQLite store keeps a mark and decodes the text from the message's bytes when SEARCH asks, so plain
// mail is not written twice; other messages keep their text. Either way the store answers with
// exactly what analyze() decoded at delivery.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { analyze, TEXT_FROM_RAW } from '../../src/store/analyze.js';
import { openToolStore } from '../../src/store/index.js';

const messages: Record<string, string> = {
  plain: 'Subject: plain\r\nMessage-ID: <p@x>\r\n\r\nHello plain world\r\nsecond line\r\n',
  qp: 'Subject: qp\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus M=C3=BCnchen, soft=\r\nbreak\r\n',
  latin1: 'Subject: l1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
  multipart: 'Subject: mp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain part\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html <b>part</b></p>\r\n--b--\r\n',
  html: 'Subject: h\r\nContent-Type: text/html\r\n\r\n<p>only <i>html</i> here</p>\r\n',
};

test('the decoded text of single text/plain parts is kept as a mark and decoded again to the same text; others keep theirs', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-search-text-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await openToolStore(dir);
  t.after(() => store.close());
  await store.domains.add('example.test');
  const alice = await store.users.add('alice@example.test', 'x');
  const raws: Record<string, Buffer> = {};
  for (const [name, text] of Object.entries(messages)) {
    raws[name] = name === 'latin1' ? Buffer.concat([Buffer.from(text), Buffer.from([0x53, 0xfc, 0xdf, 0x0d, 0x0a])]) : Buffer.from(text);
    await store.deliver({ msgId: `st.${name}`, mailFrom: 'x@elsewhere.test', raw: raws[name], local: [{ userId: alice.id, address: alice.address, rcptTo: alice.address }], remote: [], journey: [] });
  }
  const inbox = (await store.mailboxes.list(alice.id)).find((m) => m.name === 'INBOX')!;
  const list = await store.messages.list(inbox.id);
  const db = new Database(path.join(dir, 'postoffice.sqlite'), { readonly: true });
  t.after(() => db.close());
  const stored = db.prepare('SELECT search_text FROM blobs WHERE id = ?');
  for (const [i, name] of Object.keys(messages).entries()) {
    const want = await analyze(raws[name]);
    const meta = await store.messages.meta(list[i].blobId);
    assert.equal(meta.searchText, want.searchText, `${name}: the text SEARCH reads is what delivery decoded`);
    const simple = name === 'plain' || name === 'qp' || name === 'latin1';
    assert.equal(want.textFromRaw ?? false, simple, name);
    assert.equal((stored.get(list[i].blobId) as { search_text: string }).search_text === TEXT_FROM_RAW, simple, `${name}: kept as a mark only when it can be decoded again`);
  }
  assert.match((await store.messages.meta(list[1].blobId)).searchText, /Grüße aus München, softbreak/);
  assert.match((await store.messages.meta(list[2].blobId)).searchText, /Süß/);
  assert.match((await store.messages.meta(list[3].blobId)).searchText, /plain part/);
});
