import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMailboxName, decodeMailboxName } from '../../src/imap/wire.js';
import { fixture, startLab } from '../helpers/lab.js';
import { client } from './helpers.js';

const USERS = { users: { 'bob@example.test': 'pw' } };

test('modified UTF-7 mailbox names round-trip (RFC 3501 §5.1.3)', () => {
  for (const [utf8, wire] of [['台北', '&U,BTFw-'], ['Entwürfe', 'Entw&APw-rfe'], ['a&b', 'a&-b'], ['中文/子目录', '&Ti1lhw-/&W1B27l9V-']]) {
    assert.equal(encodeMailboxName(utf8), wire);
    assert.equal(decodeMailboxName(wire), utf8);
  }
});

test('LIST, CREATE (with parents and USE), RENAME, DELETE, SUBSCRIBE, LSUB', async (t) => {
  const lab = await startLab(t, USERS);
  const c = await client(lab, { user: 'bob@example.test' });
  assert.deepEqual(await c.cmd('LIST "" "*"'), [
    '* LIST (\\HasNoChildren) "/" "INBOX"',
    '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
    '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
    '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
    '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
    '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    'TAG OK LIST completed',
  ]);
  assert.deepEqual(await c.cmd('LIST "" ""'), ['* LIST (\\Noselect) "/" ""', 'TAG OK LIST completed']);
  assert.deepEqual(await c.cmd('CREATE Projects/2026/Q4'), ['TAG OK CREATE completed']);
  assert.deepEqual(await c.cmd('CREATE Projects'), ['TAG NO [ALREADYEXISTS] mailbox already exists']);
  assert.deepEqual(await c.cmd('CREATE inbox'), ['TAG NO [ALREADYEXISTS] mailbox already exists']);
  assert.deepEqual(await c.cmd('CREATE "bad*name"'), ['TAG NO [CANNOT] mailbox names may not contain *, % or control characters']);
  assert.deepEqual(await c.cmd('LIST "" "Projects/%"'), ['* LIST (\\HasChildren) "/" "Projects/2026"', 'TAG OK LIST completed']);
  assert.deepEqual(await c.cmd('LIST "Projects/" "*"'), [
    '* LIST (\\HasChildren) "/" "Projects/2026"', '* LIST (\\HasNoChildren) "/" "Projects/2026/Q4"', 'TAG OK LIST completed',
  ]);
  assert.deepEqual(await c.cmd('CREATE Receipts (USE (\\Archive))'), ['TAG OK CREATE completed']);
  assert.deepEqual(await c.cmd('CREATE Bogus (USE (\\Important))'), ['TAG NO [USEATTR] unsupported special-use attribute \\Important']);
  assert.deepEqual(await c.cmd('LIST "" Receipts'), ['* LIST (\\HasNoChildren \\Archive) "/" "Receipts"', 'TAG OK LIST completed']);
  assert.deepEqual(await c.cmd('RENAME Projects Work'), ['TAG OK RENAME completed']);
  assert.deepEqual(await c.cmd('LIST "" "Work*"'), [
    '* LIST (\\HasChildren) "/" "Work"', '* LIST (\\HasChildren) "/" "Work/2026"', '* LIST (\\HasNoChildren) "/" "Work/2026/Q4"', 'TAG OK LIST completed',
  ]);
  assert.deepEqual(await c.cmd('RENAME Nope Other'), ['TAG NO [NONEXISTENT] no mailbox Nope']);
  // RFC 3501 §6.3.6: subscriptions are names; CREATE adds none and RENAME leaves them (store.mailboxes.subscriptions)
  assert.deepEqual(await c.cmd('LSUB "" "Work/*"'), ['TAG OK LSUB completed']);
  assert.deepEqual(await c.cmd('SUBSCRIBE Work/2026/Q4'), ['TAG OK SUBSCRIBE completed']);
  assert.deepEqual(await c.cmd('UNSUBSCRIBE Work/2026'), ['TAG OK UNSUBSCRIBE completed']);
  assert.deepEqual(await c.cmd('LSUB "" "Work/*"'), ['* LSUB (\\HasNoChildren) "/" "Work/2026/Q4"', 'TAG OK LSUB completed']);
  assert.deepEqual(await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Work/%"'), ['* LIST (\\HasChildren) "/" "Work/2026" ("CHILDINFO" ("SUBSCRIBED"))', 'TAG OK LIST completed']);
  assert.deepEqual(await c.cmd('DELETE Work/2026/Q4'), ['TAG OK DELETE completed']);
  assert.deepEqual(await c.cmd('DELETE INBOX'), ['TAG NO [CANNOT] INBOX cannot be deleted']);
  assert.deepEqual(await c.cmd('DELETE Work/2026/Q4'), ['TAG NO [NONEXISTENT] no mailbox Work/2026/Q4']);
  assert.deepEqual(await c.cmd('LIST "" "Work/*"'), ['* LIST (\\HasNoChildren) "/" "Work/2026"', 'TAG OK LIST completed']);
});

test('LIST-EXTENDED: SPECIAL-USE selection, RETURN (STATUS ...), several patterns', async (t) => {
  const lab = await startLab(t, USERS);
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  assert.deepEqual(await c.cmd('LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)'), [
    '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
    '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
    '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
    '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
    '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    'TAG OK LIST completed',
  ]);
  assert.deepEqual(await c.cmd('LIST "" (INBOX Sent) RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN))'), [
    '* LIST (\\Subscribed \\HasNoChildren) "/" "INBOX"',
    '* STATUS "INBOX" (MESSAGES 1 UNSEEN 1)',
    '* LIST (\\Subscribed \\HasNoChildren \\Sent) "/" "Sent"',
    '* STATUS "Sent" (MESSAGES 0 UNSEEN 0)',
    'TAG OK LIST completed',
  ]);
  assert.deepEqual(await c.cmd('STATUS INBOX (MESSAGES RECENT UIDNEXT UNSEEN DELETED SIZE)'), [
    `* STATUS "INBOX" (MESSAGES 1 RECENT 1 UIDNEXT 2 UNSEEN 1 DELETED 0 SIZE ${fixture('plain.eml').length})`, 'TAG OK STATUS completed',
  ]);
  assert.deepEqual(await c.cmd('STATUS Nope (MESSAGES)'), ['TAG NO [NONEXISTENT] no mailbox Nope']);
  assert.deepEqual(await c.cmd('STATUS INBOX (BOGUS)'), ['TAG BAD unknown status item BOGUS']);
});

test('Chinese folder names: CREATE in modified UTF-7, stored as UTF-8, LIST and SELECT', async (t) => {
  const lab = await startLab(t, USERS);
  const c = await client(lab, { user: 'bob@example.test' });
  const wire = encodeMailboxName('工作/报告');
  assert.deepEqual(await c.cmd(`CREATE "${wire}"`), ['TAG OK CREATE completed']);
  const u = await lab.po.store.users.get('bob@example.test');
  assert.ok(await lab.po.store.mailboxes.get(u!.id, '工作/报告'), 'stored under its UTF-8 name');
  assert.ok(await lab.po.store.mailboxes.get(u!.id, '工作'), 'parent created');
  assert.deepEqual(await c.cmd(`LIST "" "${encodeMailboxName('工作')}/*"`), [`* LIST (\\HasNoChildren) "/" "${wire}"`, 'TAG OK LIST completed']);
  const sel = await c.cmd(`SELECT "${wire}"`);
  assert.equal(sel[sel.length - 1], 'TAG OK [READ-WRITE] SELECT completed');
});

test('NAMESPACE, ID, ENABLE, GETQUOTAROOT', async (t) => {
  const lab = await startLab(t, { ...USERS, env: { POSTOFFICE_QUOTA_BYTES: String(10 * 1024 * 1024) } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  assert.deepEqual(await c.cmd('NAMESPACE'), ['* NAMESPACE (("" "/")) NIL NIL', 'TAG OK NAMESPACE completed']);
  assert.deepEqual(await c.cmd('ID ("name" "test-client" "version" "1")'), ['* ID ("name" "postoffice" "vendor" "postoffice")', 'TAG OK ID completed']);
  assert.deepEqual(await c.cmd('ENABLE CONDSTORE X-UNKNOWN'), ['* ENABLED CONDSTORE', 'TAG OK ENABLE completed']);
  assert.deepEqual(await c.cmd('GETQUOTAROOT INBOX'), ['* QUOTAROOT "INBOX" ""', '* QUOTA "" (STORAGE 1 10240)', 'TAG OK GETQUOTAROOT completed']);
  assert.deepEqual(await c.cmd('GETQUOTA ""'), ['* QUOTA "" (STORAGE 1 10240)', 'TAG OK GETQUOTA completed']);
  assert.match((await c.cmd('CAPABILITY'))[0], / QUOTA QUOTA=RES-STORAGE$/);
});

test('QUOTA: over the limit APPEND is refused with OVERQUOTA; without a limit QUOTA is not advertised', async (t) => {
  const lab = await startLab(t, { ...USERS, env: { POSTOFFICE_QUOTA_BYTES: '300' } });
  await lab.deliver('bob@example.test', fixture('plain.eml'));
  const c = await client(lab, { user: 'bob@example.test' });
  assert.deepEqual(await c.cmd('APPEND INBOX {100+}\r\n' + 'x'.repeat(100)), ['TAG NO [OVERQUOTA] quota exceeded']);
  const lab2 = await startLab(t, USERS);
  const c2 = await client(lab2, { user: 'bob@example.test' });
  assert.ok(!(await c2.cmd('CAPABILITY'))[0].includes('QUOTA'));
  assert.deepEqual(await c2.cmd('GETQUOTA ""'), ['TAG NO [CANNOT] no quota is configured']);
});
