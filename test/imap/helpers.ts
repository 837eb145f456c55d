// IMAP test helpers: a logged-in client on a real listener, commands that return every line.
import type net from 'node:net';
import { lineReader, type Lab } from '../helpers/lab.js';

export interface Client {
  sock: net.Socket;
  /** send a tagged command; resolves with every line up to and including the tagged reply */
  cmd(line: string): Promise<string[]>;
  /** the next line from the server */
  next(): Promise<string>;
  send(raw: string): void;
  close(): void;
}

let tags = 0;

export async function client(lab: Lab, opts: { user?: string; pass?: string; port?: 'imap' | 'imaps' } = {}): Promise<Client> {
  const sock = await lab.connect(opts.port ?? 'imaps');
  const r = lineReader(sock, 10_000);
  const c: Client = {
    sock,
    next: () => r.next(),
    send: (raw) => { sock.write(raw); },
    async cmd(line) {
      const tag = `t${++tags}`;
      sock.write(`${tag} ${line}\r\n`);
      const out: string[] = [];
      for (;;) {
        const l = await r.next();
        out.push(l);
        if (l.startsWith(tag + ' ')) return out.map((x) => x.replace(tag + ' ', 'TAG '));
      }
    },
    close: () => sock.destroy(),
  };
  await r.next(); // greeting
  if (opts.user) {
    const res = await c.cmd(`LOGIN ${opts.user} ${opts.pass ?? 'pw'}`);
    if (!res[res.length - 1].startsWith('TAG OK')) throw new Error(`login failed: ${res.join('\n')}`);
  }
  return c;
}

export const last = (lines: string[]) => lines[lines.length - 1];
