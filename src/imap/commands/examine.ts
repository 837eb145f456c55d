import type { ImapCommand } from '../types.js';
import { openMailbox } from './select.js';

// RFC 3501 §6.3.2 EXAMINE: SELECT, read-only (no \Recent claimed, no \Seen set).
export const examine: ImapCommand<'EXAMINE'> = {
  states: ['authenticated', 'selected'],
  run: (s, cmd) => openMailbox(s, cmd, true),
};
