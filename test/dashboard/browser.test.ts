// A real browser (Debian's Chromium driven by playwright-core) on the dashboard of two post
// offices: sign in, open the journey of a relayed message, check that the picture names each hop,
// open a transcript (the test's password is not on the page), and watch a new message appear
// while the page is open. Screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { ARTIFACTS, CHROMIUM, PASSWORDS, inbox, launchChromium, startTwoOffices, waitFor } from './helpers.js';

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install -y chromium): the browser tests need it`;

test('in Chromium: sign in, the journey picture of a relayed message, its transcript without the password, live updates', { skip, timeout: 120_000 }, async (t) => {
  const lab = await startTwoOffices(t, {}, { 'down.test': { MX: [[10, 'mx.down.test']] }, 'mx.down.test': { A: ['127.0.0.9'] } });
  const messageId = await lab.send('hello from 163', 'across two post offices\n', 'friend@sina.test',
    '<p>across <b>two</b> post offices</p><script>parent.document.title = "owned"</script><img src="http://example.invalid/track.png">');
  await waitFor('the mail in friend@sina.test INBOX', async () => (await inbox(lab.sina.po.store, 'friend@sina.test')).length > 0);
  await waitFor('the sender queue to empty', async () => (await lab.mail163.po.store.queue.list()).length === 0);

  // friend reads it over IMAP: the last hop, MDA <- MUA
  const imap = new ImapFlow({ host: '127.0.0.3', port: lab.sina.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'friend@sina.test', pass: PASSWORDS.friend }, logger: false });
  await imap.connect();
  const lock = await imap.getMailboxLock('INBOX');
  for await (const m of imap.fetch('1:*', { source: true })) assert.ok(m.source);
  lock.release();
  await imap.logout();

  const context = (await launchChromium(t))!;
  const page = await context.newPage();
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });

  // signing in: a page needs it, and comes back after
  await page.goto(`${lab.base}/messages`);
  assert.match(page.url(), /\/login\?next=%2Fmessages$/);
  await page.fill('#address', 'me@163.test');
  await page.fill('#password', 'wrong password');
  await page.click('button[type=submit]');
  assert.match(await page.textContent('.flash.error') ?? '', /Wrong address or password/);
  await page.fill('#password', PASSWORDS.me);
  await shot('sign-in');
  await page.click('button[type=submit]');
  await page.waitForURL(`${lab.base}/messages`);

  // the message list has it, with its subject; open its journey
  await page.click('text=hello from 163');
  await page.waitForSelector('#journey-picture');
  const picture = (await page.textContent('#journey-picture')) ?? '';
  // MUA (me@163.test) -> MTA mx.163.test -> MTA mx.sina.test -> MDA (friend@sina.test INBOX)
  for (const hop of ['MUA', 'me@163.test', 'MTA', 'mx.163.test', 'mx.sina.test', 'MDA', 'friend@sina.test', 'SMTP submission', 'SMTP attempt 1', 'TLSv1.3', 'local delivery', 'IMAPS FETCH']) {
    assert.ok(picture.includes(hop), `the picture names ${hop}: ${picture}`);
  }
  const order = ['me@163.test', 'mx.163.test', 'mx.sina.test', 'friend@sina.test', 'IMAPS FETCH'].map((s) => picture.indexOf(s));
  assert.deepEqual([...order].sort((a, b) => a - b), order, 'the hops in the order the mail took them');
  assert.deepEqual(await page.locator('.station .role').allTextContents(), ['MUA', 'MTA', 'MTA', 'MDA', 'MUA']);
  assert.ok(((await page.textContent('.steps')) ?? '').includes('mx.sina.test'), 'the step list below the picture');
  await shot('journey');
  await page.locator('#journey-picture').screenshot({ path: path.join(ARTIFACTS, 'dashboard-journey-picture.png') });

  // the submission hop opens the SMTP session that carried it: AUTH is there, the password is not
  await page.click('#journey-picture a.attempt >> nth=0');
  await page.waitForSelector('#transcript');
  const transcript = (await page.textContent('#transcript')) ?? '';
  assert.match(transcript, /EHLO/);
  assert.match(transcript, /AUTH/);
  const html = await page.content();
  assert.ok(!html.includes(PASSWORDS.me), 'the password is not on the page');
  assert.ok(!html.includes(Buffer.from(`\0me@163.test\0${PASSWORDS.me}`).toString('base64')), 'nor its AUTH PLAIN payload');
  await shot('transcript');

  // the relay hop: the outbound session to sina's MX
  await page.goBack();
  await page.waitForSelector('#journey-picture');
  const relayHop = page.locator('#journey-picture a.attempt', { hasText: 'SMTP attempt 1' });
  if (await relayHop.count()) {
    await relayHop.first().click();
    await page.waitForSelector('#transcript');
    assert.match((await page.textContent('#transcript')) ?? '', /RCPT TO:<friend@sina\.test>/);
  }

  // live: the list gets a new message while it is open, without a reload
  await page.goto(`${lab.base}/messages`);
  await page.waitForSelector('#live-dot.on');
  await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
  await lab.send('a second one, live');
  await page.waitForSelector('text=a second one, live', { timeout: 30_000 });
  assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page was not reloaded');
  await shot('messages-live');

  // the overview and the connect page render for both post offices
  await page.goto(`${lab.base}/`);
  assert.match((await page.textContent('main')) ?? '', /163\.test[^]*sina\.test/);
  await shot('overview');
  await page.goto(`${lab.base}/connect`);
  assert.equal(await page.locator('.qr svg').count(), 2);
  await shot('connect');
  await page.goto(`${lab.base}/sessions`);
  await shot('sessions');
  await page.goto(`${lab.base}/accounts`);
  await shot('accounts');

  // a mail whose MX is down: the attempt is red in the picture, the entry waits in the queue
  await lab.send('to a dead MX', 'x\n', 'someone@down.test');
  await waitFor('a failed attempt', async () => (await lab.mail163.po.store.queue.list()).some((e) => e.attempts >= 1));
  await page.goto(`${lab.base}/messages`);
  await page.click('text=to a dead MX');
  await page.waitForSelector('#journey-picture');
  assert.ok(await page.locator('#journey-picture .attempt.failed').count() >= 1, 'a failed attempt in red');
  assert.equal(await page.locator('#journey-picture .station.failed').count(), 1, 'the MX not reached');
  assert.match((await page.textContent('#journey-picture')) ?? '', /mx\.down\.test/);
  await page.locator('#journey-picture').screenshot({ path: path.join(ARTIFACTS, 'dashboard-journey-deferred-picture.png') });
  await shot('journey-deferred');
  // the relay retries (the schedule is 1 s here): the next attempt appears in the open page
  await page.evaluate(() => { (window as unknown as { marker: number }).marker = 7; });
  await page.waitForSelector('#journey-picture >> text=SMTP attempt 2', { timeout: 30_000 });
  assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 7, 'no reload: the picture was redrawn in place');
  // retry now from the queue page: a POST from the browser's own form passes the CSRF checks
  await page.goto(`${lab.base}/queue`);
  await page.click('button:has-text("Retry now")');
  await page.waitForSelector('.flash');
  assert.match((await page.textContent('.flash')) ?? '', /is due now/);
  await shot('queue');

  // friend (no admin) signs in to their own inbox: the HTML part is sandboxed, scripts do not run
  await page.click('header button:has-text("Sign out")');
  await page.waitForURL(/\/login$/);
  await page.fill('#address', 'friend@sina.test');
  await page.fill('#password', PASSWORDS.friend);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/inbox\/\d+$/);
  await page.click('text=hello from 163');
  await page.waitForSelector('iframe.mail');
  const frame = page.frameLocator('iframe.mail');
  assert.match((await frame.locator('body').textContent()) ?? '', /across two post offices/);
  assert.notEqual(await page.title(), 'owned', 'the mail\'s script did not run');
  assert.ok(((await page.textContent('main')) ?? '').includes('How it got here'));
  await shot('inbox-message');
  assert.equal((await page.goto(`${lab.base}/accounts`))?.status(), 403);
  void messageId;
});
