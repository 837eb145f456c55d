// Dashboard security over plain HTTP: nothing but the probes and autoconfig without signing in;
// a non-admin sees only their own inbox; a POST from another site (or without the form's token) is
// refused; the session cookie is HttpOnly + SameSite=Strict and changes at sign-in; sign-in is
// rate-limited.
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { silentLogger } from '../../src/log/log.js';
import { startDashboard } from '../../src/trace/http.js';
import { PASSWORDS, WebClient, inbox, startTwoOffices, waitFor } from './helpers.js';

const PUBLIC = new Set(['public', 'probe']);
/** a URL for a route pattern: every :param gets a harmless value */
const fill = (url: string) => url.replace(/:office/g, '163.test').replace(/:mailbox/g, '1').replace(/:[a-z]+/gi, '1');

test('no page or API without signing in, except /health, /healthz, /metrics (loopback), autoconfig and the MTA-STS policy', { timeout: 60_000 }, async (t) => {
  const lab = await startTwoOffices(t);
  const anon = new WebClient(lab.base);
  const guarded = lab.dashboard.routes.filter((r) => !PUBLIC.has(r.access));
  assert.ok(guarded.length >= 20, `the pages are registered (${guarded.length})`);
  for (const r of guarded) {
    const p = fill(r.url);
    const res = r.method === 'GET' ? await anon.get(p) : await anon.post(p, { _csrf: 'x' });
    await res.body?.cancel();
    if (r.method === 'GET' && !p.startsWith('/api/') && p !== '/events') {
      assert.equal(res.status, 303, `${r.method} ${p}`);
      assert.equal(res.headers.get('location'), `/login?next=${encodeURIComponent(p)}`);
    } else assert.ok(res.status === 401 || res.status === 403, `${r.method} ${p}: ${res.status}`);
  }
  // what is open: the list is short and known
  assert.deepEqual(lab.dashboard.routes.filter((r) => PUBLIC.has(r.access)).map((r) => `${r.method} ${r.url} ${r.access}`).sort(), [
    'GET /.well-known/autoconfig/mail/config-v1.1.xml public', 'GET /.well-known/mta-sts.txt public', 'GET /dashboard.css public', 'GET /health public', 'GET /healthz probe',
    'GET /login public', 'GET /mail/config-v1.1.xml public', 'GET /metrics probe', 'POST /autodiscover/autodiscover.xml public', 'POST /login public',
  ]);
  assert.equal((await anon.get('/health')).status, 200);
  assert.equal((await anon.get('/healthz')).status, 200, 'loopback');
  const metrics = await anon.get('/metrics');
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^# TYPE postoffice_messages_received_total counter$/m);
  assert.equal((await anon.get('/mail/config-v1.1.xml?emailaddress=friend%40sina.test')).status, 200);
});

test('from another address: /healthz and /metrics only with the bearer token; sign-in only over TLS (a proxy)', { timeout: 60_000 }, async (t) => {
  const ip = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!ip) { t.skip('no non-loopback IPv4 address on this machine'); return; }
  const lab = await startTwoOffices(t);
  const d = await startDashboard({ offices: lab.offices, port: 0, host: ip, config: { ...lab.mail163.config, httpTraceToken: 'probe-token' }, log: silentLogger });
  t.after(() => d.close());
  const base = `http://${ip}:${d.port}`;
  for (const p of ['/healthz', '/metrics']) {
    assert.equal((await fetch(base + p)).status, 403, p);
    assert.equal((await fetch(base + p, { headers: { authorization: 'Bearer nope' } })).status, 403, p);
    assert.equal((await fetch(base + p, { headers: { authorization: 'Bearer probe-token' } })).status, 200, p);
  }
  assert.equal((await fetch(base + '/health')).status, 200);
  assert.equal((await fetch(base + '/api/trace/x', { headers: { authorization: 'Bearer probe-token' } })).status, 404, 'the token opens the journey API');
  // no password over plain HTTP from another machine (as IMAP and POP3 refuse it without TLS)
  const c = new WebClient(base);
  const plain = await c.signIn('me@163.test', PASSWORDS.me);
  assert.equal(plain.status, 403);
  assert.match(await plain.text(), /needs HTTPS/);
  // behind a TLS proxy: allowed, and the cookie is Secure
  const tls = { 'x-forwarded-proto': 'https' };
  const viaProxy = new WebClient(base);
  const form = await viaProxy.get('/login', tls);
  const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1];
  const ok = await viaProxy.post('/login', { _csrf: token, address: 'me@163.test', password: PASSWORDS.me }, { origin: `https://${ip}:${d.port}`, 'sec-fetch-site': 'same-origin', ...tls });
  assert.equal(ok.status, 303);
  assert.match(ok.headers.getSetCookie().join('\n'), /po_session=[^;]+;.*Secure/i);
  // httpPlaintextSignIn=any (Docker publishing 127.0.0.1:8080: clients arrive from the bridge's gateway)
  const open = await startDashboard({ offices: lab.offices, port: 0, host: ip, config: { ...lab.mail163.config, httpPlaintextSignIn: 'any' }, log: silentLogger });
  t.after(() => open.close());
  const anyClient = new WebClient(`http://${ip}:${open.port}`);
  const signedIn = await anyClient.signIn('me@163.test', PASSWORDS.me);
  assert.equal(signedIn.status, 303, 'plain HTTP sign-in from another address once the operator allows it');
});

test('sign-in: a new HttpOnly SameSite=Strict cookie, wrong passwords refused, sign-out ends the session, rate limit', { timeout: 60_000 }, async (t) => {
  const lab = await startTwoOffices(t);
  const c = new WebClient(lab.base);
  const login = await c.get('/login');
  const setCookie = login.headers.getSetCookie().join('\n');
  assert.match(setCookie, /po_session=[^;]+;.*HttpOnly/i);
  assert.match(setCookie, /SameSite=Strict/i);
  assert.doesNotMatch(setCookie, /Secure/i, 'plain HTTP: no Secure flag');
  const before = c.cookie;
  const token = /name="_csrf" value="([^"]+)"/.exec(await login.text())![1];
  // the sign-in form itself is CSRF-checked
  assert.equal((await c.post('/login', { address: 'me@163.test', password: PASSWORDS.me })).status, 403);
  assert.equal((await c.post('/login', { _csrf: token, address: 'me@163.test', password: PASSWORDS.me }, { origin: 'http://evil.example' })).status, 403);
  const bad = await c.post('/login', { _csrf: token, address: 'me@163.test', password: 'not it' });
  assert.equal(bad.status, 401);
  assert.match(await bad.text(), /Wrong address or password/);
  const ok = await c.post('/login', { _csrf: token, address: 'me@163.test', password: PASSWORDS.me });
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get('location'), '/');
  assert.notEqual(c.cookie, before, 'a new session id at sign-in');
  assert.equal((await c.get('/')).status, 200);
  // the old (anonymous) cookie is worth nothing
  const planted = new WebClient(lab.base);
  planted.cookie = before;
  assert.equal((await planted.get('/')).status, 303);
  // sign out: that cookie stops working too
  const signedIn = c.cookie;
  assert.equal((await c.post('/logout', { _csrf: await c.csrf('/') })).status, 303);
  const after = new WebClient(lab.base);
  after.cookie = signedIn;
  assert.equal((await after.get('/')).status, 303);
  // the sign-in route is rate-limited (20 a minute per client address)
  const r = new WebClient(lab.base);
  const tok = await r.csrf('/login');
  const codes: number[] = [];
  // all at once: each failure is delayed (the Authenticator's penalty), the limit counts arrivals
  codes.push(...(await Promise.all(Array.from({ length: 22 }, () => r.post('/login', { _csrf: tok, address: 'nobody@163.test', password: 'x' })))).map((x) => x.status));
  assert.ok(codes.includes(429), `429 after the limit: ${codes.join(' ')}`);
});

test('a non-admin signs in to their own inbox only; admin pages and the API refuse them', { timeout: 60_000 }, async (t) => {
  const lab = await startTwoOffices(t);
  await lab.sina.po.store.users.add('blind@sina.test', 'x');
  await lab.send('for friend', 'x\n', 'friend@sina.test', undefined, 'blind@sina.test');
  await waitFor('the mail at sina', async () => (await inbox(lab.sina.po.store, 'friend@sina.test')).length > 0 && (await inbox(lab.sina.po.store, 'blind@sina.test')).length > 0);
  const c = new WebClient(lab.base);
  const r = await c.signIn('friend@sina.test', PASSWORDS.friend);
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), '/inbox');
  for (const p of ['/', '/messages', '/sessions', '/queue', '/accounts', '/messages/x', '/sessions/sina.test/x']) {
    const res = await c.get(p);
    assert.equal(res.status, 403, p);
    assert.match(await res.text(), /Admins only/);
  }
  assert.equal((await c.get('/api/trace/x')).status, 403);
  const token = await c.csrf('/inbox/1');
  const add = await c.post('/accounts/sina.test/users/add', { _csrf: token, address: 'evil@sina.test', password: 'x' });
  assert.equal(add.status, 403);
  assert.equal(await lab.sina.po.store.users.get('evil@sina.test'), null);
  // the inbox: their mailboxes, the message and its journey (without transcript links)
  const box = await c.get('/inbox');
  assert.equal(box.status, 303);
  const list = await (await c.get(box.headers.get('location')!)).text();
  assert.match(list, /for friend/);
  const href = /href="(\/inbox\/\d+\/\d+)"/.exec(list)![1];
  const msg = await (await c.get(href)).text();
  assert.match(msg, /How it got here/);
  assert.match(msg, /mx\.163\.test/);
  assert.doesNotMatch(msg, /\/sessions\//, 'no transcript links for a non-admin');
  assert.ok(!msg.includes('blind@sina.test'), 'the Bcc recipient stays blind in the journey');
  const frame = await c.get(`${href}/html`);
  assert.match(frame.headers.get('content-security-policy') ?? '', /sandbox/);
  // someone else's mailbox at the same post office is not theirs
  const other = await lab.sina.po.store.users.add('other@sina.test', 'x');
  const otherBox = (await lab.sina.po.store.mailboxes.list(other.id))[0];
  assert.equal((await c.get(`/inbox/${otherBox.id}`)).status, 404);
  for (const p of ['/inbox/x', '/inbox/1e3', '/inbox/-1', `${href.replace(/\d+$/, 'abc')}`, `${href.replace(/\d+$/, '0')}`, `${href}9999/html`]) {
    assert.equal((await c.get(p)).status, 404, p);
  }
  assert.equal((await c.get(`/connect`)).status, 200);
});

test('a cross-site POST is refused, and so is one without the form token; the same form from the dashboard works', { timeout: 60_000 }, async (t) => {
  const lab = await startTwoOffices(t);
  const c = new WebClient(lab.base);
  assert.equal((await c.signIn('me@163.test', PASSWORDS.me)).status, 303);
  const token = await c.csrf('/accounts');
  const form = { _csrf: token, address: 'new@sina.test', password: 'pw-new' };
  const refused = async (res: Response, why: string) => {
    assert.equal(res.status, 403, why);
    assert.equal(await lab.sina.po.store.users.get('new@sina.test'), null, why);
  };
  await refused(await c.post('/accounts/sina.test/users/add', form, { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }), 'another site');
  await refused(await c.post('/accounts/sina.test/users/add', form, { origin: 'http://evil.example' }), 'another origin');
  await refused(await c.post('/accounts/sina.test/users/add', form, { 'sec-fetch-site': 'same-site' }), 'a sibling site');
  await refused(await c.post('/accounts/sina.test/users/add', form, {}), 'no origin at all');
  await refused(await c.post('/accounts/sina.test/users/add', { ...form, _csrf: 'forged' }), 'a wrong token');
  await refused(await c.post('/accounts/sina.test/users/add', { address: form.address, password: form.password }), 'no token');
  const ok = await c.post('/accounts/sina.test/users/add', form);
  assert.equal(ok.status, 303);
  const flash = (res: Response) => Object.fromEntries(new URL(res.headers.get('location') ?? '/', lab.base).searchParams);
  assert.equal(flash(ok).ok, 'added new@sina.test');
  assert.ok(await lab.sina.po.store.users.get('new@sina.test'));
  // admin on/off and a password reset, then the new password signs in
  assert.equal((await c.post('/accounts/sina.test/users/admin', { _csrf: token, address: 'new@sina.test', on: 'on' })).status, 303);
  assert.equal((await lab.sina.po.store.users.get('new@sina.test'))?.admin, true);
  assert.equal((await c.post('/accounts/sina.test/users/password', { _csrf: token, address: 'new@sina.test', password: 'pw-changed' })).status, 303);
  const n = new WebClient(lab.base);
  assert.equal((await n.signIn('new@sina.test', 'pw-changed')).headers.get('location'), '/');
  // the CLI (another process) takes the right away: the open session loses it at once
  await lab.sina.po.store.users.setAdmin('new@sina.test', false);
  assert.equal((await n.get('/accounts')).status, 403);
  await lab.sina.po.store.users.del('new@sina.test');
  assert.equal((await n.get('/inbox')).status, 303, 'a deleted account is signed out');
  for (const id of ['x', '0', '-1', '1.5', '99999']) {
    const r = await c.post(`/queue/163.test/${id}/retry`, { _csrf: token });
    assert.equal(r.status, 303, id);
    assert.match(flash(r).error ?? '', /no (such )?queue(d)? entr/, id);
  }
  // an admin cannot lock themselves out
  const self = await c.post('/accounts/163.test/users/admin', { _csrf: token, address: 'me@163.test', on: 'off' });
  assert.match(flash(self).error ?? '', /^you cannot take your own admin right/);
  assert.equal((await lab.mail163.po.store.users.get('me@163.test'))?.admin, true);
});
