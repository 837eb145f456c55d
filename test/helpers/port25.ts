// Send raw bytes over port 25 as another MTA would (no TLS), and report the server's answer
// instead of throwing: the policy tests compare replies.
import nodemailer from 'nodemailer';
import type { Lab } from './lab.js';

export type Sent = { ok: true; response: string } | { ok: false; code: number; response: string };

export async function sendPort25(lab: Lab, mailFrom: string, to: string, raw: Buffer, helo: string): Promise<Sent> {
  const tr = nodemailer.createTransport({ host: '127.0.0.1', port: lab.port('smtp'), secure: false, ignoreTLS: true, name: helo, socketTimeout: 10_000 });
  try {
    const info = await tr.sendMail({ envelope: { from: mailFrom, to: [to] }, raw });
    return { ok: true, response: info.response };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string; message: string };
    return { ok: false, code: e.responseCode ?? 0, response: e.response ?? e.message };
  } finally {
    tr.close();
  }
}
