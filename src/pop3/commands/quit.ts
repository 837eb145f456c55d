import { Pop3Err } from '../errors.js';
import type { JourneyEvent } from '../../store/index.js';
import type { Pop3Command } from '../types.js';

// RFC 1939 §6 QUIT: in TRANSACTION, enter UPDATE and remove the messages marked by DELE, in one transaction.
export const quit: Pop3Command<'QUIT'> = {
  states: ['authorization', 'transaction'],
  async run(s) {
    if (s.state === 'authorization') return { ok: 'postoffice POP3 server signing off', after: 'close' };
    s.state = 'update';
    await s.settle();
    const gone = s.maildrop.deleted();
    if (gone.length) {
      const journey: JourneyEvent[] = gone.filter((m) => m.msgId).map((m) => ({
        msgId: m.msgId as string, agent: 'MUA access', step: 'deleted',
        details: { user: s.user?.address, proto: 'pop3', client: s.remoteAddress, uid: m.uid },
      }));
      try {
        await s.store.messages.remove(s.maildrop.mailbox.id, gone.map((m) => m.uid), { origin: s, journey });
      } catch (err) {
        s.log.error({ err, code: 'STORE_WRITE_FAILED' }, 'pop3 UPDATE failed');
        s.closeSoon();
        throw new Pop3Err('some deleted messages not removed', 'SYS/TEMP');
      }
    }
    const { count } = s.maildrop.stat();
    // the next session may lock the maildrop as soon as it reads this reply
    await s.unlock();
    return { ok: `postoffice POP3 server signing off (${count} message${count === 1 ? '' : 's'} left)`, after: 'close' };
  },
};
