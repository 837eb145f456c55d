// The command table: every verb and its handler; each handler's `states` says where it runs:
//   AUTHORIZATION  USER PASS AUTH STLS CAPA QUIT               (RFC 1939 §4, RFC 2595, RFC 5034)
//   TRANSACTION    STAT LIST RETR DELE NOOP RSET TOP UIDL CAPA QUIT   (RFC 1939 §5, §7; RFC 2449)
//   UPDATE         entered by QUIT; no commands                (RFC 1939 §6)
// Anything else is "-ERR ... not valid in the ... state"; APOP is not offered (no clear-text password store).
import type { Pop3Verb } from '../parser.js';
import type { Pop3Command } from '../types.js';
import { auth } from './auth.js';
import { capa } from './capa.js';
import { dele } from './dele.js';
import { list } from './list.js';
import { noop } from './noop.js';
import { pass } from './pass.js';
import { quit } from './quit.js';
import { retr } from './retr.js';
import { rset } from './rset.js';
import { stat } from './stat.js';
import { stls } from './stls.js';
import { top } from './top.js';
import { uidl } from './uidl.js';
import { user } from './user.js';

export const COMMANDS: { [V in Pop3Verb]: Pop3Command<V> } = {
  USER: user, PASS: pass, AUTH: auth, STLS: stls, CAPA: capa, QUIT: quit,
  STAT: stat, LIST: list, RETR: retr, DELE: dele, NOOP: noop, RSET: rset, TOP: top, UIDL: uidl,
};
