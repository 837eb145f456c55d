import type { ImapCommand } from '../types.js';
import { ImapBad } from '../wire.js';

// RFC 2177 IDLE: "+ idling", then changes to the selected mailbox as they happen, until DONE.
export const idle: ImapCommand<'IDLE'> = {
  states: ['authenticated', 'selected'],
  async run(s) {
    let active = true;
    let woken = false;
    let wake: () => void = () => undefined;
    // listening before the first report: a change that comes while it is written is not left pending
    s.idleWake = () => { woken = true; wake(); };
    s.send('+ idling');
    await s.sendUpdates(true);
    await s.flush();
    const pushLoop = (async () => {
      for (;;) {
        if (!woken) await new Promise<void>((r) => { wake = r; });
        woken = false;
        if (!active || s.isClosed) return;
        await s.sendUpdates(true);
        await s.flush();
      }
    })();
    let line: string | null;
    try {
      line = await s.readLine();
    } finally {
      active = false;
      s.idleWake = null;
      wake();
      await pushLoop.catch(() => undefined);
      s.touch();
    }
    if (line === null) return '';
    if (line.trim().toUpperCase() !== 'DONE') throw new ImapBad('expected DONE');
    return 'IDLE terminated';
  },
};
