// Replies meant for the peer. Handlers throw them; sessions write them verbatim.

/** An SMTP reply: code as on the wire (RFC 5321 §4.2), enhanced status (RFC 3463). */
export class SmtpReply extends Error {
  constructor(
    readonly code: number,
    readonly enhanced: string,
    text: string,
  ) {
    super(text);
  }
  /** The text smtp-server writes after the code: "5.1.1 text" */
  get wire(): string {
    return `${this.enhanced} ${this.message}`;
  }
}

/** An internal failure with a stable code; the peer only ever sees a generic temporary reply. */
export class InternalError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
