// `postoffice backup` while mail keeps arriving over SMTP, and `postoffice restore` into an empty
// data dir: the restored store passes integrity_check, holds every message acknowledged (250)
// before the backup started, and serves them over IMAP.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { checkSnapshot } from '../../src/store/index.js';
import { startLab } from '../helpers/lab.js';
import { imapClient, po } from './util.js';

test('backup during SMTP delivery restores to a sound store with every message acknowledged before it began', async (t) => {
  const lab = await startLab(t, { users: { 'alice@example.test': 'pw' } });
  const root = mkdtempSync(path.join(os.tmpdir(), 'postoffice-backup-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));

  const tr = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtp'), secure: false, ignoreTLS: true, pool: true, maxConnections: 3 });
  t.after(() => tr.close());
  const acked: string[] = [];
  let stop = false;
  let failure: unknown = null;
  const senders = [0, 1, 2].map(async (w) => {
    for (let i = 0; !stop; i++) {
      const messageId = `<backup-${w}-${i}@remote.test>`;
      try {
        await tr.sendMail({ from: 'carol@remote.test', to: 'alice@example.test', subject: `mail ${w}.${i}`, text: `body ${i}\n`.repeat(200), messageId });
      } catch (err) {
        failure = err;
        return;
      }
      acked.push(messageId);
    }
  });
  // a DKIM key as the relay keeps it (dataDir/dkim/<domain>.<selector>.key): it goes with the backup
  mkdirSync(path.join(lab.dataDir, 'dkim'), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(lab.dataDir, 'dkim', 'example.test.default.key'), '-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
  const until = async (cond: () => boolean) => { while (!cond() && !failure) await new Promise((r) => setTimeout(r, 20)); };
  await until(() => acked.length >= 40);
  const before = [...acked]; // every one of these got its 250 before the backup started
  const dest = path.join(root, 'backup-1');
  const r = await po(lab.dataDir, ['backup', dest]);
  const duringOrAfter = acked.length - before.length;
  await until(() => acked.length >= before.length + duringOrAfter + 10); // delivery goes on after it
  stop = true;
  await Promise.all(senders);
  assert.equal(failure, null, String(failure));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^backup .*backup-1: 1 user\(s\), \d+ message\(s\), [\d.]+ MB in [\d.]+ s \(integrity ok; tls and dkim keys\)\n$/);
  assert.deepEqual(readdirSync(dest).sort(), ['dkim', 'manifest.json', 'postoffice.sqlite', 'tls']);
  assert.equal(statSync(path.join(dest, 'postoffice.sqlite')).mode & 0o777, 0o600, 'the snapshot holds password hashes: owner only');
  const manifest = JSON.parse(readFileSync(path.join(dest, 'manifest.json'), 'utf8'));
  assert.equal(manifest.kind, 'postoffice backup');
  assert.ok(manifest.messages >= before.length);

  // a second backup into the same (non-empty) folder is refused; an empty one is fine
  let again = await po(lab.dataDir, ['backup', dest]);
  assert.equal(again.code, 1);
  assert.match(again.err, /exists and is not empty/);
  mkdirSync(path.join(root, 'empty'));
  again = await po(lab.dataDir, ['backup', path.join(root, 'empty')]);
  assert.equal(again.code, 0, again.err);

  // restore: refused into a non-empty data dir, then into an empty one
  const busy = path.join(root, 'busy');
  mkdirSync(busy);
  writeFileSync(path.join(busy, 'something'), 'x');
  let rr = await po(busy, ['restore', dest]);
  assert.equal(rr.code, 1);
  assert.match(rr.err, /is not empty; restore only into an empty one/);
  rr = await po(path.join(root, 'restored'), ['restore', path.join(root, 'nothing')]);
  assert.equal(rr.code, 1);
  assert.match(rr.err, /is not a postoffice backup/);
  const restored = path.join(root, 'restored');
  rr = await po(restored, ['restore', dest]);
  assert.equal(rr.code, 0, rr.err);
  assert.match(rr.out, /^restored 1 user\(s\) and \d+ message\(s\) into .*restored \(integrity ok; tls and dkim keys\)\n$/);
  assert.ok(existsSync(path.join(restored, 'tls')));
  assert.equal(readFileSync(path.join(restored, 'dkim', 'example.test.default.key'), 'utf8'), readFileSync(path.join(lab.dataDir, 'dkim', 'example.test.default.key'), 'utf8'));
  assert.equal(statSync(path.join(restored, 'dkim', 'example.test.default.key')).mode & 0o777, 0o600, 'key files keep their mode');
  const check = checkSnapshot(path.join(restored, 'postoffice.sqlite'));
  assert.equal(check.integrity, 'ok');

  // the restored data dir serves: every message acknowledged before the backup is there
  const lab2 = await startLab(t, { dataDir: restored });
  const c = await imapClient(lab2, 'alice@example.test', 'pw');
  t.after(() => c.logout().catch(() => undefined));
  await c.mailboxOpen('INBOX');
  const ids = new Set<string>();
  for await (const m of c.fetch('1:*', { envelope: true })) ids.add(m.envelope!.messageId!);
  const missing = before.filter((id) => !ids.has(id));
  assert.deepEqual(missing, [], `${missing.length} of ${before.length} acknowledged messages missing`);
  assert.ok(ids.size <= acked.length);
  t.diagnostic(`acknowledged before the backup: ${before.length}; in the backup: ${ids.size}; delivered while it ran: ${duringOrAfter}; all: ${acked.length}`);
});
