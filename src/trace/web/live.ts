// Live updates by Server-Sent Events (text/event-stream). One poller for all the browsers that
// listen: every 500 ms it asks each post office for journey rows after the last id it saw and for
// the newest sessions, and tells every listener `journey` or `session` (which office; no content:
// the page then fetches itself again, with the checks of any other request). It runs only while
// someone listens.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Dashboard } from './context.js';

const MAX_CLIENTS = 200;

export class LiveHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly lastId = new Map<string, number>();
  private readonly lastSessions = new Map<string, string>();
  private polling = false;

  constructor(private readonly dash: Dashboard, private readonly intervalMs = 500) {}

  get listeners(): number { return this.clients.size; }

  async add(res: ServerResponse): Promise<boolean> {
    if (this.clients.size >= MAX_CLIENTS) return false;
    if (this.clients.size === 0) await this.baseline();
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stop();
    });
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll(), this.intervalMs);
      this.heartbeat = setInterval(() => this.send(': keep-alive\n\n'), 15_000);
    }
    return true;
  }

  close(): void {
    this.stop();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = this.heartbeat = null;
  }

  private sessionsKey(list: { sid: string; ended: number | null; lines: number }[]): string {
    return list.map((s) => `${s.sid}/${s.ended ?? ''}/${s.lines}`).join(',');
  }

  /** where the stream starts: what exists now is not news */
  private async baseline(): Promise<void> {
    for (const o of this.dash.offices) {
      this.lastId.set(o.name, await o.store.journey.lastId().catch(() => 0));
      this.lastSessions.set(o.name, this.sessionsKey(await o.store.transcripts.list({ limit: 10 }).catch(() => [])));
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return; // a slow store: skip a beat rather than pile up
    this.polling = true;
    try {
      for (const o of this.dash.offices) {
        const last = await o.store.journey.lastId();
        const seen = this.lastId.get(o.name) ?? 0;
        if (last > seen) {
          const rows = await o.store.journey.recent({ limit: 50, afterId: seen });
          this.lastId.set(o.name, last);
          this.send(`event: journey\ndata: ${JSON.stringify({ office: o.name, messages: rows.length, lastId: last })}\n\n`);
        }
        const key = this.sessionsKey(await o.store.transcripts.list({ limit: 10 }));
        if (key !== this.lastSessions.get(o.name)) {
          this.lastSessions.set(o.name, key);
          this.send(`event: session\ndata: ${JSON.stringify({ office: o.name })}\n\n`);
        }
      }
    } catch (err) {
      this.dash.log.warn({ err }, 'live updates: poll failed');
    } finally {
      this.polling = false;
    }
  }

  private send(chunk: string): void {
    for (const c of this.clients) if (!c.writableEnded) c.write(chunk);
  }
}

export function registerLive(app: FastifyInstance, dash: Dashboard): LiveHub {
  const hub = new LiveHub(dash);
  app.get('/events', { config: { access: 'user' } }, async (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-content-type-options': 'nosniff',
    });
    res.write('retry: 2000\n\n');
    if (!(await hub.add(res))) res.end('event: busy\ndata: {}\n\n');
  });
  return hub;
}
