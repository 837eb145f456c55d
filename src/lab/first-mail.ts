// Lab: the seed's story, told live. me@163.test writes to friend@sina.test (a UTF-8 text, an HTML
// part and an attachment, as the smtplib tutorial's mail); the lab prints each hop of the journey
// as it is recorded, then fetches the mail as the friend's client would, over POP3 and IMAP.
import type { OfficeRow } from '../trace/journey.js';
import { storyLine } from '../trace/story.js';
import { imapFetch, pop3Retrieve } from './clients.js';
import type { JourneyState, Lab, SendRequest } from './lab.js';

/** The classic mail: what a MUA such as Foxmail would build for a short letter with a file. */
export function classicMail(from: string, to: string): SendRequest {
  return {
    from, to,
    subject: 'Hello from 163.test: your first mail through the lab 你好',
    text: 'Hi friend,\n\nthis mail went from my client to 163.test, then by MX to sina.test, where your client fetches it.\n' +
      'UTF-8 travels too: 你好, grüß dich, ça va ?\n\nme\n',
    html: '<p>Hi friend,</p><p>this mail went from my <b>client</b> to <b>163.test</b>, then by <b>MX</b> to <b>sina.test</b>, ' +
      'where your client fetches it.</p><p>UTF-8 travels too: 你好, grüß dich, ça va ?</p><p>me</p>',
    attachments: [{ filename: 'notes.txt', content: 'plain text attachment\nline 2\n', contentType: 'text/plain; charset=utf-8' }],
  };
}

/** Prints a journey's rows as they appear (each once, in time order). */
export class Follower {
  private readonly seen = new Set<string>();
  private t0 = 0;
  constructor(private readonly print: (line: string) => void) {}

  show(rows: (OfficeRow & { sentence?: string })[]): void {
    const fresh = rows.filter((r) => !this.seen.has(key(r))).sort((a, b) => a.time - b.time);
    if (!this.t0 && rows.length) this.t0 = Math.min(...rows.map((r) => r.time));
    for (const r of fresh) {
      this.seen.add(key(r));
      this.print(storyLine(r, this.t0));
    }
  }
}

const key = (r: OfficeRow) => `${r.office}/${r.msgId}/${r.id}/${r.step}/${r.time}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `fetch` and print new rows until `until` holds or `timeoutMs` passes; returns the last state. */
export async function follow(fetch: () => Promise<JourneyState>, f: Follower, until: (j: JourneyState) => boolean, timeoutMs: number): Promise<{ state: JourneyState; timedOut: boolean }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const j = await fetch();
    f.show(j.rows);
    if (until(j)) return { state: j, timedOut: false };
    if (Date.now() > end) return { state: j, timedOut: true };
    await sleep(250);
  }
}

/** Send the classic mail, follow it to sina's MDA, fetch it over POP3 and IMAP: the whole path printed. */
export async function tellStory(lab: Lab, print: (line: string) => void): Promise<{ msgId: string; messageId: string; url: string; state: JourneyState }> {
  const [sender, receiver] = lab.offices;
  const mail = classicMail(sender.user, receiver.user);
  print(`${sender.user} writes to ${receiver.user}: "${mail.subject}" (text, HTML and an attachment)`);
  print('');
  const sent = await lab.send(mail);
  const f = new Follower(print);
  const j = () => lab.journey(sent.msgId);
  const stored = (s: JourneyState) => s.rows.some((r) => r.office === receiver.domain && r.step === 'stored');
  const delivered = await follow(j, f, (s) => stored(s) || s.done, 60_000);
  if (delivered.timedOut || !stored(delivered.state)) {
    print(`the mail did not reach ${receiver.domain} within a minute; see ${sent.journeyUrl}`);
    return { msgId: sent.msgId, messageId: sent.messageId, url: sent.journeyUrl, state: delivered.state };
  }
  // the friend's MUA: POP3 downloads, IMAP reads on the server
  const uid = Number(delivered.state.rows.find((r) => r.office === receiver.domain && r.step === 'stored')?.details.uid);
  const server = { host: receiver.ip, servername: receiver.hostname, user: receiver.user, password: lab.secrets.password };
  const viaPop = await pop3Retrieve({ ...server, port: receiver.ports.pop3s }, sent.messageId);
  const viaImap = await imapFetch({ ...server, port: receiver.ports.imaps }, uid);
  if (!viaPop.equals(viaImap)) print('(POP3 and IMAP gave different bytes: that should not happen)');
  const fetched = (s: JourneyState) => s.rows.some((r) => r.step === 'retrieved') && s.rows.some((r) => r.step === 'fetched');
  const end = await follow(j, f, fetched, 10_000);
  return { msgId: sent.msgId, messageId: sent.messageId, url: sent.journeyUrl, state: end.state };
}
