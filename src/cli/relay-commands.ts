// `postoffice dns DOMAIN` and `postoffice doctor [DOMAIN] [--probe HOST:PORT | --no-probe]`:
// what to publish in DNS, and whether what is published (and the network) lets mail flow.
import type { Config } from '../config/config.js';
import { doctor, formatFindings } from '../relay/doctor.js';
import { formatZone, recordsFor } from '../relay/records.js';
import { StoreError, type Store } from '../store/index.js';

export async function dnsCommand(config: Config, store: Store, domain: string): Promise<string> {
  if (!(await store.domains.isLocal(domain))) throw new StoreError('notfound', `${domain} is not a local domain (postoffice domain add ${domain})`);
  return `; DNS records for ${domain.toLowerCase()}: publish these at your DNS provider\n` + formatZone(recordsFor(config, domain));
}

/** Returns the report and whether anything failed (exit status 1). */
export async function doctorCommand(config: Config, store: Store, args: string[]): Promise<{ text: string; failed: boolean }> {
  let probe: string | null | undefined;
  const i = args.indexOf('--probe');
  if (i >= 0) { probe = args[i + 1]; args.splice(i, 2); }
  const j = args.indexOf('--no-probe');
  if (j >= 0) { probe = null; args.splice(j, 1); }
  const domains = args.length ? args : (await store.domains.list()).map((d) => d.name);
  const findings = await doctor(config, { domains, probe });
  return { text: formatFindings(findings), failed: findings.some((f) => f.level === 'fail') };
}
