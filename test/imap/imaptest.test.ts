// Dovecot's imaptest against a real post office (issue 12): the 71 scripted conformance groups
// (RFC 3501 and extensions: each a transcript of commands and the replies the RFCs demand) and a
// short stress run (random commands from 10 clients on one mailbox, every reply checked against
// imaptest's model of the mailbox). imaptest lives in ../shared/tools/imaptest (see its README);
// its wrapper needs Debian's dovecot-core (libdovecot.so.0), which .ci/run installs.
//
// Honest by construction: the number of groups run must be 71 (a skipped suite cannot pass), no
// group may be skipped for a missing capability, every group outside KNOWN_FAILING must pass and
// every group inside it must still fail (so the list can only shrink).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { ROOT, startLab, type Lab } from '../helpers/lab.js';

const TOOL_DIR = process.env.POSTOFFICE_IMAPTEST_DIR ?? path.join(ROOT, '..', 'shared', 'tools', 'imaptest');
const IMAPTEST = path.join(TOOL_DIR, 'imaptest');
const TESTS = path.join(TOOL_DIR, 'tests');
const GROUPS = 71;
/**
 * Commands the groups run (base protocol, extensions). Groups whose capability is not advertised
 * run none: today notify (NOTIFY), search-context-update 1-3, search-partial, sort-partial
 * (CONTEXT=SEARCH/SORT), urlauth, urlauth-binary, urlauth2 (URLAUTH). Raise these when a
 * capability is added.
 */
const MIN_BASE = 457;
const MIN_EXTENSIONS = 266;

/**
 * Groups that still fail, each for a reason named in the README's Conformance paragraph. The
 * test fails when one of them passes: take it off the list then.
 */
const KNOWN_FAILING = new Set<string>([]);

/** Why imaptest cannot run here, or null. In CI it must run (.ci/run installs what it needs). */
function unavailable(): string | null {
  if (!existsSync(IMAPTEST)) return `imaptest not found at ${IMAPTEST}`;
  if (!existsSync('/usr/lib/dovecot/libdovecot.so.0') && process.getuid?.() !== 0) {
    return 'libdovecot.so.0 missing (apt-get install dovecot-core) and not root to install it';
  }
  return null;
}
const why = unavailable();
if (why && process.env.CI) throw new Error(`imaptest must run in CI: ${why}`);
const skip = why ? `imaptest cannot run here: ${why}` : false;

function run(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // asynchronous: the post office under test runs in this very process
    // cwd: a writable place (CI's copy of shared/ is read-only)
    const p = spawn(IMAPTEST, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir() });
    let out = '';
    const keep = (b: Buffer) => { if (out.length < 4_000_000) out += b.toString('utf8'); };
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) reject(new Error(`imaptest killed by ${signal}\n${out.slice(-4000)}`));
      else resolve(out);
    });
  });
}

async function lab(users: Record<string, string>): Promise<Lab> {
  return startLab(null, {
    users,
    env: {
      // imaptest logs in with LOGIN on the plain port; on loopback only
      POSTOFFICE_ALLOW_PLAINTEXT_LOOPBACK: 'true',
      // stress: ten clients log in and out hundreds of times a second from one address
      POSTOFFICE_MAX_CONNECTIONS_PER_IP: '500',
    },
  });
}

test('imaptest: all 71 scripted groups pass (over IMAPS)', { skip, timeout: 240_000 }, async () => {
  const l = await lab({ 'conformance@example.test': 'secret' });
  try {
    const out = await run([
      'host=127.0.0.1', `port=${l.port('imaps')}`, 'ssl=any-cert',
      'user=conformance@example.test', 'pass=secret', `test=${TESTS}`,
    ], 200_000);
    const summary = /^(\d+) test groups: (\d+) failed, (\d+) skipped due to missing capabilities$/m.exec(out);
    assert.ok(summary, `no imaptest summary line:\n${out.slice(-3000)}`);
    const [, groups, failed, skipped] = summary.map(Number);
    assert.equal(groups, GROUPS, `imaptest ran ${groups} groups, not ${GROUPS}`);
    assert.equal(skipped, 0, 'groups skipped for a missing capability');
    const failing = new Set([...out.matchAll(/^\*\*\* Test (\S+) /gm)].map((m) => m[1]));
    assert.equal(failing.size, failed, `failed groups: ${[...failing].join(' ')}`);
    const unexpected = [...failing].filter((g) => !KNOWN_FAILING.has(g));
    const fixed = [...KNOWN_FAILING].filter((g) => !failing.has(g));
    const detail = unexpected.map((g) => out.split('\n\n').filter((b) => b.includes(`*** Test ${g} `)).join('\n\n')).join('\n\n');
    assert.deepEqual(unexpected, [], `groups that fail:\n${detail.slice(0, 6000)}`);
    assert.deepEqual(fixed, [], 'groups that now pass: take them off KNOWN_FAILING');
    // a group whose capability we do not advertise runs no command and still counts as passed:
    // the numbers of commands run guard against capabilities (and their groups) going missing
    for (const [line, least] of [['base protocol', MIN_BASE], ['extensions', MIN_EXTENSIONS]] as const) {
      const m = new RegExp(`^${line}: (\\d+)/(\\d+) individual commands failed$`, 'm').exec(out);
      assert.ok(m, `no "${line}" line`);
      assert.ok(Number(m[2]) >= least, `${line}: ${m[2]} commands run, fewer than ${least}`);
    }
  } finally {
    await l.close();
  }
});

test('imaptest stress: 10 clients for 15 s, 0 errors, no disconnection', { skip, timeout: 120_000 }, async () => {
  const l = await lab({ 'stress@example.test': 'secret' });
  try {
    const out = await run([
      'host=127.0.0.1', `port=${l.port('imap')}`, 'user=stress@example.test', 'pass=secret',
      'clients=10', 'secs=15', `mbox=${path.join(TESTS, 'default.mbox')}`,
    ], 90_000);
    assert.match(out, /^Totals:$/m, `imaptest did not finish:\n${out.slice(-3000)}`);
    // every reply imaptest finds wrong, and every dropped connection, is an "Error:" line
    const errors = out.split('\n').filter((x) => /^(Error|Panic|Fatal):|assert/i.test(x));
    assert.deepEqual(errors.slice(0, 30), [], `${errors.length} errors`);
    // the run did real work: the totals row has commands in every column
    const totals = out.slice(out.indexOf('Totals:')).split('\n')[4]?.trim().split(/\s+/).map(Number) ?? [];
    assert.ok(totals.length >= 10 && totals.every((n) => n > 0), `totals: ${totals.join(' ')}`);
  } finally {
    await l.close();
  }
});
