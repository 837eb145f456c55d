// The state table: which handler runs each verb (its `states` say where it is allowed).
import type { ImapCommand } from '../session.js';
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

export const COMMANDS: Record<string, ImapCommand> = {
  CAPABILITY: capability, NOOP: noop, LOGOUT: logout,
  STARTTLS: starttls, LOGIN: login, AUTHENTICATE: authenticate,
  SELECT: select, EXAMINE: examine, CREATE: create, DELETE: del, RENAME: rename,
  SUBSCRIBE: subscribe, UNSUBSCRIBE: unsubscribe, LIST: list, LSUB: lsub, STATUS: status, APPEND: append,
  NAMESPACE: namespace, ID: id, ENABLE: enable, IDLE: idle, GETQUOTA: getquota, GETQUOTAROOT: getquotaroot,
  CHECK: check, CLOSE: close, UNSELECT: unselect, EXPUNGE: expunge, SEARCH: search, SORT: sort, THREAD: thread, FETCH: fetch,
  STORE: store, COPY: copy, MOVE: move, COMPRESS: compress,
};
