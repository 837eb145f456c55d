// Retention: a background pruner that keeps the journey and the lab's transcripts bounded
// (config journeyRetention, transcriptRetention, transcriptMaxBytes). It runs once at start and
// then every hour; the store deletes in chunks so deliveries keep committing meanwhile.
import type { Config } from '../config/config.js';
import type { Logger } from '../log/log.js';
import { parseDuration } from '../mail/duration.js';
import type { Store } from './types.js';

export interface Pruner {
  /** one pass now (the timer's pass if one is running) */
  run(): Promise<void>;
  /** stops the timer and waits for a pass in progress */
  stop(): Promise<void>;
}

export function startPruner(store: Store, config: Config, log: Logger, everyMs = 3_600_000): Pruner {
  const transcriptMs = parseDuration(config.transcriptRetention);
  const journeyMs = parseDuration(config.journeyRetention);
  let running: Promise<void> | null = null;
  let stopped = false;
  const run = (): Promise<void> => {
    if (running) return running;
    if (stopped) return Promise.resolve();
    const now = Date.now();
    running = store.prune({ transcriptsBefore: now - transcriptMs, transcriptMaxBytes: config.transcriptMaxBytes, journeyBefore: now - journeyMs })
      .then(
        (r) => { if (r.transcripts || r.journey) log.info({ transcripts: r.transcripts, journey: r.journey }, 'retention: pruned'); },
        (err: unknown) => { if (!stopped) log.error({ err, code: 'PRUNE_FAILED' }, 'retention: prune failed'); },
      )
      .finally(() => { running = null; });
    return running;
  };
  const first = setTimeout(() => void run(), 1000);
  first.unref();
  const timer = setInterval(() => void run(), everyMs);
  timer.unref();
  return {
    run,
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
