// A client process of the idle-connection sweep: opens `count` IMAP sessions (LOGIN, SELECT INBOX, IDLE),
// `parallel` at a time, tells its parent when they are all idling, and holds them until told to go.
import { imapConnect } from './lib.mjs';

const [port, user, password, count, parallel] = process.argv.slice(2);
const held = [];
let next = 0;
let failed = 0;
let firstError = null;
async function one() {
  while (next < Number(count)) {
    next++;
    try {
      const c = await imapConnect(Number(port));
      await c.cmd(`LOGIN ${user} ${password}`);
      await c.cmd('SELECT INBOX');
      await c.idle();
      held.push(c);
    } catch (e) { failed++; firstError ??= String(e.message ?? e); }
  }
}
await Promise.all(Array.from({ length: Number(parallel) }, one));
process.send({ held: held.length, failed, firstError });
process.on('message', () => { for (const c of held) c.close(); process.exit(0); });
