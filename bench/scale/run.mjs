// `npm run bench:scale`: the sweeps (delivery, mailbox size, idle sessions) on postoffice and the anchor,
// one JSON line per point in bench/results/scale/scale-STAMP.jsonl, then the plots beside it.
// Knobs: see bench/scale/README.md. Small defaults: a try run takes a few minutes.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deliverySweep } from './delivery.mjs';
import { idleSweep } from './idle.mjs';
import { mailboxSweep } from './mailbox.mjs';
import { plot } from './plot.mjs';
import { RESULTS, TARGETS, env, log, record, target } from './lib.mjs';

const SWEEPS = env('BENCH_SCALE_SWEEPS', 'delivery mailbox idle').split(/[ ,]+/).filter(Boolean);

record({ workload: 'machine', cpus: os.cpus().length, mem_total_mb: Math.round(os.totalmem() / 2 ** 20), node: process.version,
  loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), targets: TARGETS, sweeps: SWEEPS });
for (const name of TARGETS) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `scale-${name}-`));
  const t = target(name, path.join(tmp, 'data'));
  // stopped by a signal: the servers go too (postoffice by its PID, the anchor by anchor.sh stop)
  const bye = () => { t.stop().catch(() => {}).finally(() => process.exit(130)); };
  process.once('SIGINT', bye); process.once('SIGTERM', bye);
  try {
    if (name === 'anchor') t.reset();
    await t.start();
    for (const sweep of SWEEPS) {
      log(`${name}: ${sweep}`);
      if (sweep === 'delivery') await deliverySweep(t);
      else if (sweep === 'mailbox') await mailboxSweep(t, tmp);
      else if (sweep === 'idle') await idleSweep(t);
      else throw new Error(`unknown sweep ${sweep}`);
    }
  } finally {
    await t.stop().catch((e) => log(`${name}: stop: ${e.message}`));
    process.removeListener('SIGINT', bye); process.removeListener('SIGTERM', bye);
    if (env('BENCH_SCALE_KEEP', '0') !== '1') rmSync(tmp, { recursive: true, force: true });
    else log(`${name}: kept ${tmp}`);
  }
}
log(`results: ${RESULTS}`);
for (const f of await plot(RESULTS)) log(`plot: ${f}`);
