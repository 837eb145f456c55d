// `postoffice serve`: the whole stack in the foreground; SIGTERM/SIGINT stop it gracefully,
// SIGHUP reloads the TLS certificate.
import type { Config } from '../config/config.js';
import { createLogger } from '../log/log.js';
import { startPostoffice } from '../postoffice.js';

export async function serve(config: Config): Promise<void> {
  const log = createLogger(config.logLevel);
  const po = await startPostoffice(config, log);
  const where = (p: number) => `${config.listen}:${p}`;
  const lines = [`postoffice ${config.hostname}: data in ${config.dataDir}, local domains ${config.domains.join(', ')}`];
  for (const l of po.listeners) {
    lines.push(`  ${l.name.padEnd(10)} ${l.state === 'listening' ? where(l.port) : `${l.state}${l.port ? ` (port ${l.port})` : ''}`}`);
  }
  if (po.relay) lines.push(`  relay      ${po.relay.describe()}`);
  lines.push(`  TLS: ${po.tls.source === 'files' ? config.tlsCert
    : po.acme ? `ACME (${po.acme.info().names.join(', ')} from ${po.acme.info().directoryUrl}) in ${po.acme.dir}${po.tls.source === 'acme' ? '' : ', self-signed until the first certificate arrives'}`
    : 'self-signed certificate in ' + config.dataDir + '/tls'}`);
  lines.push(`add a user:  npx postoffice user add alice@${config.domains[0]} --password 'secret'`);
  const http = po.listeners.find((l) => l.name === 'http' && l.state === 'listening');
  if (http) lines.push(`dashboard:   http://${config.listen === '0.0.0.0' ? '127.0.0.1' : config.listen}:${http.port}  (sign in as an admin: add --admin to the line above)`);
  lines.push(`watch a mail travel between two post offices:  npx postoffice lab`);
  process.stdout.write(lines.join('\n') + '\n');
  // DKIM keys for every local domain from the first start (see `postoffice dns DOMAIN`)
  void po.relay?.prepareKeys();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await po.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => po.tls.reload('SIGHUP'));
}
