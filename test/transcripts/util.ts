// Helpers of the transcript tests: wait for a session's transcript to be stored, render it, and
// check that no form of a password is anywhere in it.
import assert from 'node:assert/strict';
import type { Store, Transcript } from '../../src/store/index.js';

/** The stored transcript of the first session matching `pick`, once it has ended. */
export async function ended(store: Store, pick: (s: Transcript) => boolean, timeoutMs = 10_000): Promise<Transcript> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    for (const s of await store.transcripts.list({ limit: 100 })) {
      if (s.ended === null) continue;
      const t = await store.transcripts.get(s.sid);
      if (t && pick(t)) return t;
    }
    if (Date.now() > until) throw new Error('no such ended transcript');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The stored transcripts, newest first, once `n` sessions have ended. */
export async function endedAll(store: Store, n: number, timeoutMs = 10_000): Promise<Transcript[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const list = (await store.transcripts.list({ limit: 100 })).filter((s) => s.ended !== null);
    if (list.length >= n) return Promise.all(list.map(async (s) => (await store.transcripts.get(s.sid))!));
    if (Date.now() > until) throw new Error(`${list.length} ended transcripts, expected ${n}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** "C: ...", "S: ...", "TLS: ...", "note: ..." lines. */
export function render(t: Transcript): string[] {
  return t.lines.map((l) => `${l.dir}: ${l.text}`);
}

/** Every form a password may travel in: plain, base64 alone (LOGIN), and SASL PLAIN's base64. */
export function secretForms(user: string, pass: string): string[] {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return [pass, b64(pass), b64(`\0${user}\0${pass}`), b64(`${user}\0${user}\0${pass}`)];
}

export function assertNoSecret(text: string, user: string, pass: string, where: string): void {
  for (const s of secretForms(user, pass)) assert.ok(!text.includes(s), `${where} contains ${JSON.stringify(s)}`);
}

/** `expected` lines appear in `lines` in this order ("..." matches any text, as in STYLE's transcripts). */
export function assertInOrder(lines: string[], expected: string[]): void {
  let i = 0;
  for (const e of expected) {
    const re = new RegExp(`^${e.split('...').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
    const match = (l: string) => re.test(l);
    while (i < lines.length && !match(lines[i])) i++;
    assert.ok(i < lines.length, `missing ${JSON.stringify(e)} (in order) in:\n${lines.join('\n')}`);
    i++;
  }
}
