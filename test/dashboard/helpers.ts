// The dashboard tests' lab: two post offices as in test/relay/two-post-offices.test.ts (163.test on
// 127.0.0.2, sina.test on 127.0.0.3, a dns2 server for their MX), transcripts on, and one dashboard
// showing both. me@163.test is an admin; friend@sina.test is not. Plus a tiny cookie-keeping
// HTTP client for the plain-HTTP security tests, and the Chromium launcher for the browser tests.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import nodemailer from 'nodemailer';
import { silentLogger } from '../../src/log/log.js';
import { startDashboard, type DashboardHandle, type DashboardOffice } from '../../src/trace/http.js';
import { ROOT, startLab, type Lab } from '../helpers/lab.js';
import { startDns, type Zone } from '../relay/dns-server.js';
import { inbox, waitFor } from '../relay/util.js';

export { waitFor, inbox };

export const PASSWORDS = { me: 'Me-163-pw!7', friend: 'Fr-sina-pw!9' };

export interface TwoOffices {
  mail163: Lab;
  sina: Lab;
  dashboard: DashboardHandle;
  base: string;
  offices: DashboardOffice[];
  /** me@163.test submits to friend@sina.test on 163's submission port (STARTTLS + AUTH) */
  send(subject: string, text?: string, to?: string, html?: string, bcc?: string): Promise<string>;
}

const office = (name: string, lab: Lab, listen: string): DashboardOffice => ({
  name, store: lab.po.store, hostname: lab.config.hostname, listen, listeners: () => lab.po.listeners, limiter: lab.po.limiter, auth: lab.po.auth, relay: lab.po.relay,
});

export async function startTwoOffices(t: TestContext, extraEnv: Record<string, string> = {}, zones: Record<string, Zone> = {}): Promise<TwoOffices> {
  const dns = await startDns({
    '163.test': { MX: [[10, 'mx.163.test']] }, 'mx.163.test': { A: ['127.0.0.2'] },
    'sina.test': { MX: [[10, 'mx.sina.test']] }, 'mx.sina.test': { A: ['127.0.0.3'] },
    ...zones,
  });
  t.after(() => dns.close());
  const common = {
    POSTOFFICE_DNS_SERVERS: dns.server, POSTOFFICE_RELAY_POLL_MS: '100', POSTOFFICE_RELAY_RETRY_SCHEDULE: '1s',
    POSTOFFICE_TRANSCRIPTS: 'on', POSTOFFICE_HTTP_PORT: '0', ...extraEnv,
  };
  const sina = await startLab(t, {
    users: { 'friend@sina.test': PASSWORDS.friend },
    env: { ...common, POSTOFFICE_DOMAINS: 'sina.test', POSTOFFICE_HOSTNAME: 'mx.sina.test', POSTOFFICE_LISTEN: '127.0.0.3' },
  });
  const mail163 = await startLab(t, {
    users: { 'me@163.test': PASSWORDS.me },
    env: { ...common, POSTOFFICE_DOMAINS: '163.test', POSTOFFICE_HOSTNAME: 'mx.163.test', POSTOFFICE_LISTEN: '127.0.0.2', POSTOFFICE_RELAY_PORT: String(sina.port('smtp')) },
  });
  await mail163.po.store.users.setAdmin('me@163.test', true);
  const offices = [office('163.test', mail163, '127.0.0.2'), office('sina.test', sina, '127.0.0.3')];
  const dashboard = await startDashboard({ offices, port: 0, host: '127.0.0.1', config: mail163.config, log: silentLogger });
  t.after(() => dashboard.close());
  const base = `http://127.0.0.1:${dashboard.port}`;
  return {
    mail163, sina, dashboard, base, offices,
    async send(subject, text = 'across two post offices\n', to = 'friend@sina.test', html?: string, bcc?: string) {
      const transport = nodemailer.createTransport({
        host: '127.0.0.2', port: mail163.port('submission'), secure: false, requireTLS: true,
        tls: { rejectUnauthorized: false }, auth: { user: 'me@163.test', pass: PASSWORDS.me },
      });
      try {
        const sent = await transport.sendMail({ from: 'me@163.test', to, subject, text, ...(html ? { html } : {}), ...(bcc ? { bcc } : {}) });
        return sent.messageId;
      } finally { transport.close(); }
    },
  };
}

/** A browser-like HTTP client: keeps the cookie, sends Origin/Sec-Fetch-Site as a same-origin page would. */
export class WebClient {
  cookie = '';
  constructor(readonly base: string) {}

  async get(p: string, headers: Record<string, string> = {}): Promise<Response> {
    const r = await fetch(this.base + p, { redirect: 'manual', headers: { ...(this.cookie ? { cookie: this.cookie } : {}), ...headers } });
    this.keep(r);
    return r;
  }

  async post(p: string, form: Record<string, string>, headers: Record<string, string> = { origin: this.base, 'sec-fetch-site': 'same-origin' }): Promise<Response> {
    const r = await fetch(this.base + p, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(this.cookie ? { cookie: this.cookie } : {}), ...headers },
    });
    this.keep(r);
    return r;
  }

  /** the CSRF token of a page's forms */
  async csrf(p: string): Promise<string> {
    const html = await (await this.get(p)).text();
    const m = /name="_csrf" value="([^"]+)"/.exec(html);
    if (!m) throw new Error(`no CSRF token on ${p}`);
    return m[1];
  }

  async signIn(address: string, password: string): Promise<Response> {
    const token = await this.csrf('/login');
    return this.post('/login', { _csrf: token, address, password });
  }

  private keep(r: Response): void {
    const set = r.headers.getSetCookie?.() ?? [];
    for (const c of set) {
      const [pair] = c.split(';');
      if (pair.startsWith('po_session=')) this.cookie = pair.endsWith('=') ? '' : pair;
    }
  }
}

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** Chromium from Debian's package, headless, with a fresh profile; null when it is not installed. */
export async function launchChromium(t: TestContext) {
  if (!existsSync(CHROMIUM)) return null;
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'postoffice-chromium-'));
  // a fresh --user-data-dir: Playwright takes it as the persistent context's directory
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1360, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  t.after(async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); });
  mkdirSync(ARTIFACTS, { recursive: true });
  return context;
}
