// startPostoffice's rcptPolicy (how `postoffice lab` injects its faults): asked after our own
// recipient checks, on every SMTP listener; its SmtpReply is the answer to RCPT, null accepts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { hashPassword } from '../../src/auth/password.js';
import { loadConfig } from '../../src/config/config.js';
import { silentLogger } from '../../src/log/log.js';
import { SmtpReply } from '../../src/mail/errors.js';
import { startPostoffice } from '../../src/postoffice.js';
import type { RcptPolicy } from '../../src/smtp/context.js';
import { labEnv, transcript } from '../helpers/lab.js';

test('rcptPolicy refuses what it is asked to, after our checks, and sees the envelope', async (t) => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'postoffice-policy-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const asked: string[] = [];
  let first = true;
  const rcptPolicy: RcptPolicy = ({ listener, mailFrom, rcptTo, client }) => {
    asked.push(`${listener} ${mailFrom} ${rcptTo} ${client}`);
    if (rcptTo === 'bob@example.test' && first) { first = false; return new SmtpReply(451, '4.7.1', `<${rcptTo}>: greylisted, please try again later`); }
    return null;
  };
  const po = await startPostoffice(loadConfig(labEnv(dataDir)), silentLogger, { ephemeralPorts: true, relay: false, rcptPolicy });
  t.after(() => po.close());
  await po.store.users.add('bob@example.test', await hashPassword('pw'));
  const sock = net.connect({ host: '127.0.0.1', port: po.port('smtp') });
  t.after(() => sock.destroy());
  await transcript(sock, `
    S: 220 ...
    C: HELO client.test
    S: 250 ...
    C: MAIL FROM:<alice@remote.test>
    S: 250 ...
    C: RCPT TO:<nobody@example.test>
    S: 550 5.1.1 <nobody@example.test>: no such user here
    C: RCPT TO:<bob@example.test>
    S: 451 4.7.1 <bob@example.test>: greylisted, please try again later
    C: RCPT TO:<bob@example.test>
    S: 250 ...
    C: QUIT
    S: 221 ...
  `);
  assert.deepEqual(asked, ['smtp alice@remote.test bob@example.test 127.0.0.1', 'smtp alice@remote.test bob@example.test 127.0.0.1'], 'asked only for recipients we accepted');
});
