// The command table: every verb and its handler; each handler's `states` say where it runs:
//   not authenticated  CAPABILITY NOOP LOGOUT ID STARTTLS LOGIN AUTHENTICATE        (RFC 3501 §6.1, §6.2; RFC 2971)
//   authenticated      + SELECT EXAMINE CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LIST LSUB STATUS APPEND
//                        NAMESPACE ENABLE IDLE GETQUOTA GETQUOTAROOT COMPRESS      (RFC 3501 §6.3; extensions)
//   selected           + CHECK CLOSE UNSELECT EXPUNGE SEARCH SORT THREAD FETCH STORE COPY MOVE (RFC 3501 §6.4)
//   logout             entered by LOGOUT; no commands
// The grammar of each verb's arguments, and whether "UID" may precede it, is in grammar/index.ts.
import type { ImapCommand, ImapVerb } from '../types.js';
import { append } from './append.js';
import { authenticate } from './authenticate.js';
import { capability } from './capability.js';
import { check } from './check.js';
import { close } from './close.js';
import { compress } from './compress.js';
import { copy } from './copy.js';
import { create } from './create.js';
import { del } from './delete.js';
import { enable } from './enable.js';
import { examine } from './examine.js';
import { expunge } from './expunge.js';
import { fetch } from './fetch.js';
import { getquota } from './getquota.js';
import { getquotaroot } from './getquotaroot.js';
import { id } from './id.js';
import { idle } from './idle.js';
import { list, lsub } from './list.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { move } from './move.js';
import { namespace } from './namespace.js';
import { noop } from './noop.js';
import { rename } from './rename.js';
import { search } from './search.js';
import { select } from './select.js';
import { sort } from './sort.js';
import { thread } from './thread.js';
import { starttls } from './starttls.js';
import { status } from './status.js';
import { store } from './store.js';
import { subscribe } from './subscribe.js';
import { unselect } from './unselect.js';
import { unsubscribe } from './unsubscribe.js';

export const COMMANDS: { [V in ImapVerb]: ImapCommand<V> } = {
  CAPABILITY: capability, NOOP: noop, LOGOUT: logout,
  STARTTLS: starttls, LOGIN: login, AUTHENTICATE: authenticate,
  SELECT: select, EXAMINE: examine, CREATE: create, DELETE: del, RENAME: rename,
  SUBSCRIBE: subscribe, UNSUBSCRIBE: unsubscribe, LIST: list, LSUB: lsub, STATUS: status, APPEND: append,
  NAMESPACE: namespace, ID: id, ENABLE: enable, IDLE: idle, GETQUOTA: getquota, GETQUOTAROOT: getquotaroot,
  CHECK: check, CLOSE: close, UNSELECT: unselect, EXPUNGE: expunge, SEARCH: search, SORT: sort, THREAD: thread, FETCH: fetch,
  STORE: store, COPY: copy, MOVE: move, COMPRESS: compress,
};
