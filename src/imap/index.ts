export { startImap, type ImapListenerHandle } from './server.js';
export type { ImapOptions } from './session.js';
