// POP3 (RFC 1939, RFC 2449, RFC 2595, RFC 5034): MUA access for clients that download and delete.
export { Pop3Server, DEFAULT_POP3_OPTIONS, type Pop3Options, type Pop3ListenerHandle } from './server.js';
export { Pop3Err } from './errors.js';
