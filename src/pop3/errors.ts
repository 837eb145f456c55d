// POP3 replies meant for the peer. Handlers throw Pop3Err; the session writes "-ERR [CODE] text".

/** RFC 2449 §8 / RFC 3206 response codes we use. */
export type Pop3RespCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH';

/** An -ERR reply; `code` becomes the bracketed RFC 2449 response code. */
export class Pop3Err extends Error {
  constructor(text: string, readonly code?: Pop3RespCode) {
    super(text);
  }
  /** The reply line without CRLF. */
  get wire(): string {
    return this.code ? `-ERR [${this.code}] ${this.message}` : `-ERR ${this.message}`;
  }
}
