// A long session: its transcript reaches the store in batches while it is still open, and stops
// growing at the per-session bound (then it is marked truncated), however long the session runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TRANSCRIPT_MAX_LINES } from '../../src/store/defaults.js';
import { startLab } from '../helpers/lab.js';
import { Pop3Client } from '../pop3/client.js';
import { waitFor } from '../relay/util.js';

test('an open session is written in batches before it ends; past the bound it is truncated', { timeout: 60_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' }, env: { POSTOFFICE_TRANSCRIPTS: 'on' } });
  const { store } = lab.po;
  const c = await Pop3Client.connect(lab.port('pop3s'), { tls: true });
  t.after(() => c.close());
  await c.line();
  assert.match(await c.login('bob@example.test', 'pw'), /^\+OK/);
  // still open: the first batch arrives on its own (a few seconds after the first line)
  const open = await waitFor('the open session in the store', async () => (await store.transcripts.list({ limit: 5 })).find((s) => s.protocol === 'pop3s' && s.lines > 0));
  assert.equal(open.ended, null);
  assert.equal(open.user, 'bob@example.test');

  // 1,100 NOOPs and their answers: more lines than a session keeps
  const n = 1100;
  c.write('NOOP\r\n'.repeat(n));
  for (let i = 0; i < n; i++) assert.equal(await c.line(), '+OK');
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  await c.closedByServer();
  const done = await waitFor('the ended session', async () => {
    const s = (await store.transcripts.list({ limit: 5 })).find((x) => x.sid === open.sid);
    return s?.ended ? s : null;
  });
  assert.equal(done.lines, TRANSCRIPT_MAX_LINES);
  const full = (await store.transcripts.get(open.sid))!;
  assert.equal(full.truncated, true);
  assert.equal(full.lines.length, TRANSCRIPT_MAX_LINES);
  assert.ok(full.lines.slice(-10).every((l) => l.text === 'NOOP' || l.text === '+OK'));
  assert.ok(!full.lines.some((l) => l.dir === 'C' && l.text === 'QUIT'), 'what came past the bound is dropped');
});
