// The image's HEALTHCHECK (node, no curl): the dashboard's /healthz over loopback (the store
// answers), or, with the HTTP listener off (POSTOFFICE_HTTP_PORT=0), a TCP connect to the first
// mail listener that is on. Exit 0 healthy, 1 not.
import net from 'node:net';

const env = process.env;
const listen = env.POSTOFFICE_LISTEN ?? '0.0.0.0';
// a wildcard bind answers on loopback (and /healthz answers loopback clients only)
const host = ['0.0.0.0', '::', ''].includes(listen) ? '127.0.0.1' : listen;
const port = (name) => Number(env[`POSTOFFICE_${name}_PORT`] ?? 0);
const fail = (why) => { console.error(`unhealthy: ${why}`); process.exit(1); };
const TIMEOUT_MS = 4000;

if (port('HTTP') > 0) {
  // another bind address is not loopback: /health (public) instead of /healthz
  const path = host === '127.0.0.1' ? '/healthz' : '/health';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port('HTTP')}${path}`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = await res.json().catch(() => ({}));
    if (res.status !== 200 || body.status !== 'ok') fail(`${url} answered ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    console.log(`healthy: ${url} ${JSON.stringify(body).slice(0, 300)}`);
  } catch (err) {
    fail(`${url}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  }
} else {
  const name = ['SMTP', 'SMTPS', 'SUBMISSION', 'IMAPS', 'IMAP', 'POP3S', 'POP3'].find((n) => port(n) > 0);
  if (!name) fail('no listener is on');
  await new Promise((resolve) => {
    const s = net.connect({ host, port: port(name), timeout: TIMEOUT_MS }, () => { console.log(`healthy: ${name} ${host}:${port(name)} accepts`); s.destroy(); resolve(); });
    s.on('timeout', () => fail(`${name} ${host}:${port(name)}: no answer`));
    s.on('error', (err) => fail(`${name} ${host}:${port(name)}: ${err.code ?? err.message}`));
  });
}
