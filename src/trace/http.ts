// Lab: the HTTP listener. For now: health, a message's journey as JSON (the dashboard builds on
// these), and the autoconfiguration mail clients ask for (trace/autoconfig.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { isLoopback } from '../mail/address.js';
import type { Store } from '../store/index.js';
import { autoconfigXml, autodiscoverEmail, autodiscoverXml, type AutoconfigInput } from './autoconfig.js';

export interface HttpHandle { port: number; close(): Promise<void> }

/**
 * A journey names users, mailboxes and client addresses: it is shown to loopback clients (the lab),
 * and to others only with `Authorization: Bearer <httpTraceToken>`.
 */
export function traceAllowed(req: http.IncomingMessage, token: string): boolean {
  if (isLoopback(req.socket.remoteAddress)) return true;
  if (!token) return false;
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const h = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(h(m[1]), h(token));
}

export async function startHttp(store: Store, info: () => Omit<AutoconfigInput, 'domains'>, port: number, host: string, traceToken = ''): Promise<HttpHandle> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body, null, 2) + '\n');
    };
    if (/^\/autodiscover\/autodiscover\.xml$/i.test(url.pathname)) return autodiscover(req, res);
    if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
    if (url.pathname === '/health' || url.pathname === '/') return send(200, { status: 'ok', ...info() });
    if (url.pathname === '/mail/config-v1.1.xml' || url.pathname === '/.well-known/autoconfig/mail/config-v1.1.xml') {
      store.domains.list().then((ds) => {
        res.writeHead(200, { 'content-type': 'application/xml; charset=utf-8' });
        res.end(autoconfigXml({ ...info(), domains: ds.map((d) => d.name) }));
      }, () => send(500, { error: 'internal error' }));
      return;
    }
    const m = /^\/api\/trace\/(.+)$/.exec(url.pathname);
    if (m && !traceAllowed(req, traceToken)) return send(403, { error: 'journeys are shown to loopback clients, or with Authorization: Bearer <httpTraceToken>' });
    if (m) {
      store.journey.trace(decodeURIComponent(m[1])).then((rows) => send(rows.length ? 200 : 404, rows), () => send(500, { error: 'internal error' }));
      return;
    }
    send(404, { error: 'not found' });
  });
  /** Outlook POSTs its request (a few hundred bytes: anything over 16 KiB is refused). */
  const autodiscover = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 16 * 1024) { res.writeHead(413).end(); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      if (res.writableEnded) return;
      const email = autodiscoverEmail(Buffer.concat(chunks).toString('utf8'));
      if (!email) { res.writeHead(400, { 'content-type': 'text/plain' }).end('no <EMailAddress> in the request\n'); return; }
      res.writeHead(200, { 'content-type': 'application/xml; charset=utf-8' });
      res.end(autodiscoverXml(info(), email));
    });
  };
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
