// One FETCH of many messages goes out in many writes (literals passed through uncopied, output
// buffers reused once written): every literal must still arrive byte for byte, in order.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { test } from 'node:test';
import { startLab } from '../helpers/lab.js';

function message(i: number, size: number): Buffer {
  const head = `From: a@example.test\r\nTo: bob@example.test\r\nSubject: m${i}\r\nMessage-ID: <m${i}@example.test>\r\n\r\n`;
  const lines: string[] = [];
  let n = head.length;
  while (n < size) { const l = randomBytes(54).toString('base64').slice(0, Math.max(1, Math.min(70, size - n - 2))); lines.push(l); n += l.length + 2; }
  return Buffer.from(head + lines.join('\r\n') + '\r\n');
}

/** Bytes from a socket, read as IMAP responses: lines, and literals after a {n} line. */
class Responses {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended = false;
  constructor(sock: net.Socket) {
    sock.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake?.(); });
    sock.on('close', () => { this.ended = true; this.wake?.(); });
  }
  private async more(): Promise<void> {
    if (this.ended) throw new Error('connection closed');
    await new Promise<void>((r) => { this.wake = r; });
    this.wake = null;
  }
  async line(): Promise<string> {
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol >= 0) { const l = this.buf.toString('latin1', 0, eol); this.buf = this.buf.subarray(eol + 2); return l; }
      await this.more();
    }
  }
  async bytes(n: number): Promise<Buffer> {
    while (this.buf.length < n) await this.more();
    const b = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return b;
  }
  /** lines until the tagged reply (which must be OK); every literal in order */
  async until(tag: string): Promise<Buffer[]> {
    const lits: Buffer[] = [];
    for (;;) {
      const l = await this.line();
      const m = /\{(\d+)\}$/.exec(l);
      if (m) { lits.push(await this.bytes(Number(m[1]))); continue; }
      if (l.startsWith(tag + ' ')) { assert.match(l, new RegExp(`^${tag} OK`)); return lits; }
    }
  }
}

test('UID FETCH 1:* BODY.PEEK[] of 400 messages of mixed sizes, two sessions at once, one slow to read: every literal byte for byte', { timeout: 120_000 }, async (t) => {
  const lab = await startLab(t, { users: { 'bob@example.test': 'pw' } });
  // small (copied into the output buffer), middling (written as they are) and big ones, mixed
  const sizes = Array.from({ length: 400 }, (_, i) => [300, 1500, 2100, 9000, 70_000, 400_000][i % 6]);
  const sent = sizes.map((s, i) => message(i, s));
  for (const m of sent) await lab.deliver('bob@example.test', m);
  const sessions = await Promise.all((['imap', 'imaps'] as const).map(async (port) => {
    const sock = await lab.connect(port);
    const r = new Responses(sock);
    await r.line(); // greeting
    sock.write('a LOGIN bob@example.test pw\r\nb SELECT INBOX\r\n');
    await r.until('a');
    await r.until('b');
    return { sock, r };
  }));
  const cmds = ['UID FETCH 1:* BODY.PEEK[]', 'UID FETCH 1:* (UID BODY.PEEK[] RFC822.SIZE)'];
  // the plaintext client stops reading for a while: the server's writes queue behind a full socket
  sessions[0].sock.pause();
  setTimeout(() => sessions[0].sock.resume(), 500);
  const got = await Promise.all(sessions.map(({ sock, r }, i) => { sock.write(`f ${cmds[i]}\r\n`); return r.until('f'); }));
  for (const g of got) {
    assert.equal(g.length, sent.length);
    for (let i = 0; i < sent.length; i++) assert.ok(g[i].equals(sent[i]), `message ${i + 1} (${sent[i].length} bytes) differs`);
  }
  for (const { sock } of sessions) sock.destroy();
});
