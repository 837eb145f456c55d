// Every page of the dashboard, registered on the fastify app (trace/http.ts owns the app, the
// access checks and the probes).
import type { FastifyInstance } from 'fastify';
import { registerAdmin } from './admin.js';
import { registerConnect } from './connect.js';
import type { Dashboard } from './context.js';
import { registerInbox } from './inbox.js';
import { registerLive } from './live.js';
import { registerMessages } from './messages.js';
import { registerOverview } from './overview.js';
import { registerSessions } from './sessions.js';

export function registerPages(app: FastifyInstance, dash: Dashboard): { close(): void } {
  registerOverview(app, dash);
  registerMessages(app, dash);
  registerSessions(app, dash);
  registerAdmin(app, dash);
  registerConnect(app, dash);
  registerInbox(app, dash);
  const live = registerLive(app, dash);
  return { close: () => live.close() };
}
