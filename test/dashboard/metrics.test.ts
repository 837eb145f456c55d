// /metrics in the Prometheus text format, fed by the real code paths: a relayed mail counts as
// received at both post offices, relayed at 163 and stored at sina; an unknown recipient bounces;
// a dead MX defers and stays in the queue; a wrong IMAP password is an auth failure; connections
// are counted by listener; commits are timed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { PASSWORDS, WebClient, inbox, startTwoOffices, waitFor } from './helpers.js';

/** the value of one sample, e.g. value(text, 'postoffice_messages_received_total', { office: 'mx.163.test' }) */
function value(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return null;
}

test('/metrics counts what happened: received, stored, relayed, bounced, deferred, queue, latency, auth failures, connections, commits', { timeout: 90_000 }, async (t) => {
  const lab = await startTwoOffices(t, {}, { 'down.test': { MX: [[10, 'mx.down.test']] }, 'mx.down.test': { A: ['127.0.0.9'] } });
  await lab.send('counted');
  await waitFor('the mail at sina', async () => (await inbox(lab.sina.po.store, 'friend@sina.test')).length > 0);
  await lab.send('to nobody', 'x\n', 'nobody@sina.test');
  await lab.send('to a dead MX', 'x\n', 'someone@down.test');
  await waitFor('the bounce and the deferral', async () => {
    const q = await lab.mail163.po.store.queue.list();
    return q.length === 1 && q[0].domain === 'down.test' && q[0].attempts >= 1;
  });
  // a wrong IMAP password, then the right one (an open connection while we scrape)
  const wrong = new ImapFlow({ host: '127.0.0.3', port: lab.sina.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'friend@sina.test', pass: 'wrong' }, logger: false });
  await assert.rejects(wrong.connect());
  const imap = new ImapFlow({ host: '127.0.0.3', port: lab.sina.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'friend@sina.test', pass: PASSWORDS.friend }, logger: false });
  await imap.connect();
  t.after(() => imap.logout().catch(() => undefined));

  const c = new WebClient(lab.base);
  const text = await waitFor('commit times to reach the registry', async () => {
    const body = await (await c.get('/metrics')).text();
    return (value(body, 'postoffice_store_commit_seconds_count') ?? 0) > 0 ? body : null;
  }, 10_000, 200);
  const a = { office: 'mx.163.test' };
  const b = { office: 'mx.sina.test' };
  assert.equal(value(text, 'postoffice_messages_received_total', { ...a, listener: 'submission' }), 3);
  assert.equal(value(text, 'postoffice_messages_received_total', { ...b, listener: 'smtp' }), 1);
  assert.equal(value(text, 'postoffice_messages_delivered_total', b), 1);
  assert.equal(value(text, 'postoffice_messages_relayed_total', a), 1);
  assert.equal(value(text, 'postoffice_messages_bounced_total', a), 1);
  assert.ok((value(text, 'postoffice_messages_deferred_total', a) ?? 0) >= 1);
  assert.equal(value(text, 'postoffice_queue_entries', a), 1);
  assert.equal(value(text, 'postoffice_queue_entries', b), 0);
  assert.equal(value(text, 'postoffice_delivery_latency_seconds_count', { ...a, kind: 'relayed' }), 1);
  assert.equal(value(text, 'postoffice_delivery_latency_seconds_count', { ...b, kind: 'stored' }), 1);
  assert.ok((value(text, 'postoffice_auth_failures_total', { protocol: 'imap' }) ?? 0) >= 1);
  assert.equal(value(text, 'postoffice_listener_connections', { ...b, listener: 'imaps' }), 1, 'the open IMAP session');
  assert.ok((value(text, 'postoffice_connections_total', { ...b, listener: 'imaps' }) ?? 0) >= 2);
  assert.ok((value(text, 'postoffice_connections', b) ?? 0) >= 1);
  assert.match(text, /^# TYPE postoffice_delivery_latency_seconds histogram$/m);
  // a failed dashboard sign-in is an auth failure too
  await c.signIn('me@163.test', 'nope');
  assert.ok((value(await (await c.get('/metrics')).text(), 'postoffice_auth_failures_total', { protocol: 'http' }) ?? 0) >= 1);
});
