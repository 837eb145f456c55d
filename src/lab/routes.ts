// Lab: the control API on the dashboard, for `postoffice lab send` in another terminal. Both
// routes are `api` routes: a signed-in admin, or `Authorization: Bearer <token of DIR/lab.json>`.
//   POST /api/lab/send         {from, to, subject, text?, fault?} -> arms the fault, submits the mail
//   GET  /api/lab/journey/:id  the joined journey, each row with its sentence (trace/story.ts)
//   GET  /api/lab/status       the post offices, their wires, the DNS, and the faults armed and applied
import type { FastifyInstance } from 'fastify';
import { explain, role } from '../trace/story.js';
import type { Lab } from './lab.js';
import { LabError } from './lab.js';

const MAX_TEXT = 64 * 1024;

function field(body: Record<string, unknown>, name: string, max: number, required: boolean): string | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw new LabError(`${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new LabError(`${name} must be a string`);
  if (v.length > max) throw new LabError(`${name} is longer than ${max} characters`);
  // a header value never carries a line break (RFC 5322 §2.2)
  if (name !== 'text' && /[\r\n]/.test(v)) throw new LabError(`${name} must be one line`);
  return v;
}

export function labRoutes(lab: Lab): (app: FastifyInstance) => void {
  return (app) => {
    app.post('/api/lab/send', { config: { access: 'api' } }, async (req, reply) => {
      const body = (typeof req.body === 'object' && req.body ? req.body : {}) as Record<string, unknown>;
      try {
        const res = await lab.send({
          from: field(body, 'from', 320, true)!, to: field(body, 'to', 320, true)!,
          subject: field(body, 'subject', 500, false) ?? '(no subject)', text: field(body, 'text', MAX_TEXT, false) ?? '',
          fault: field(body, 'fault', 40, false),
        });
        return reply.send(res);
      } catch (err) {
        if (err instanceof LabError) return reply.code(400).send({ error: err.message });
        throw err;
      }
    });

    app.get('/api/lab/status', { config: { access: 'api' } }, async () => ({
      dns: lab.dns.server,
      offices: await Promise.all(lab.offices.map(async (o) => ({
        domain: o.domain, ip: o.ip, hostname: o.hostname, user: o.user, ports: o.ports,
        wire: { address: o.wire.address, down: o.wire.isDown, ...o.wire.stats }, queued: (await o.po.store.queue.list()).length,
      }))),
      faults: { pending: lab.faults.pending, applied: lab.faults.applied.slice(-20) },
    }));

    app.get('/api/lab/journey/:id', { config: { access: 'api' } }, async (req, reply) => {
      const j = await lab.journey((req.params as { id: string }).id);
      if (!j.rows.length) return reply.code(404).send({ error: 'no such message' });
      return reply.send({ ...j, rows: j.rows.map((r) => ({ ...r, role: role(r), sentence: explain(r) })) });
    });
  };
}
