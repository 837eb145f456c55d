// The connection's byte streams: replies are encoded into reused buffers and written in one writev
// with back-pressure; RFC 4978 COMPRESS=DEFLATE and RFC 3501 §6.2.1 STARTTLS wrap the socket.
// Nothing here knows IMAP's commands: the session hands lines and literals in and gets bytes out.
import type net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { Logger } from '../log/log.js';
import { tlsLine, type Recorder } from '../log/transcript.js';
import { TLS_POLICY } from '../tls/tls.js';
import type { ImapTranscript } from './transcript.js';

/** size of an output buffer; responses are encoded into it and written when 256 KiB are queued */
const OUT_CHUNK = 300 * 1024;
/** the first buffer of a reply: most replies are short */
const SMALL_CHUNK = 16 * 1024;
/** output buffers (of those two sizes) whose bytes the kernel has taken, ready for reuse by any session */
const freeChunks = new Map<number, Buffer[]>([[OUT_CHUNK, []], [SMALL_CHUNK, []]]);
const MAX_FREE_CHUNKS = 16;
/** literals at least this big are written as they are (message bytes are immutable), not copied */
const NO_COPY_BYTES = 2048;
/** queued bytes that make maybeFlush() write */
const FLUSH_AT = 256 * 1024;

function recycle(chunks: Buffer[]): void {
  for (const c of chunks) {
    const free = freeChunks.get(c.length)!;
    if (free.length < MAX_FREE_CHUNKS) free.push(c);
  }
}

export interface OutputHooks {
  log: Logger;
  rec: Recorder;
  /** the transcript's wire tap (null when transcripts are off) */
  wire: ImapTranscript | null;
  /** ms a client may take to read what we wrote before it is dropped */
  drainTimeoutMs: number;
  /** bytes from the client (decompressed, decrypted) */
  onData(d: Buffer): void;
  /** the socket closed, or its DEFLATE stream broke */
  onClose(): void;
}

export class ImapOutput {
  /** Queued output: finished segments, and the buffer being filled (strings are encoded straight into it). */
  private segs: Buffer[] = [];
  /** full-size output buffers in `segs`: back to freeChunks once written */
  private chunks: Buffer[] = [];
  private cur: Buffer = Buffer.allocUnsafe(0);
  private off = 0;
  /** text written since the last bytes, encoded together (see write) */
  private text = '';
  /** where the bytes not yet in a segment begin in `cur` */
  private segStart = 0;
  private outBytes = 0;
  private closed = false;
  /** RFC 4978 COMPRESS=DEFLATE: raw deflate in both directions once started */
  private deflate: zlib.DeflateRaw | null = null;

  private readonly handlers = {
    data: (d: Buffer) => this.hooks.onData(d),
    error: (err: Error) => this.hooks.log.debug({ err: err.message }, 'socket error'),
    close: () => this.hooks.onClose(),
  };

  constructor(public sock: net.Socket, private readonly hooks: OutputHooks) {
    this.attach(sock);
  }

  get compressed(): boolean { return this.deflate !== null; }

  /** nothing more is written (the session ended) */
  close(): void { this.closed = true; }

  private attach(sock: net.Socket): void {
    sock.on('data', this.handlers.data);
    sock.on('error', this.handlers.error);
    sock.on('close', this.handlers.close);
  }

  private detach(sock: net.Socket): void {
    sock.off('data', this.handlers.data);
    sock.off('close', this.handlers.close);
  }

  /** Queue a line (CRLF added). */
  send(line: string): void {
    this.write(line);
    this.write('\r\n');
  }

  /**
   * Queue raw pieces (literals inside a response). Text is gathered and encoded in one go when
   * bytes follow or the output is flushed: a FETCH line is a handful of short strings.
   */
  write(piece: string | Buffer): void {
    if (this.hooks.wire) this.hooks.wire.wrote(piece);
    this.outBytes += piece.length;
    if (typeof piece === 'string') {
      this.text += piece;
      if (this.text.length >= 4096) this.encodeText();
      return;
    }
    if (this.text) this.encodeText();
    if (piece.length >= NO_COPY_BYTES) {
      this.cut();
      this.segs.push(piece); // a literal goes out as it is, never copied
    } else {
      if (this.cur.length - this.off < piece.length) this.rotate(piece.length);
      this.off += piece.copy(this.cur, this.off);
    }
  }

  private encodeText(): void {
    const t = this.text;
    this.text = '';
    const max = t.length * 3; // UTF-8 bytes of a JS string are at most 3 per UTF-16 unit
    if (this.cur.length - this.off < max) this.rotate(max);
    this.off += this.cur.write(t, this.off);
  }

  /** What was encoded since the last segment becomes one; the buffer goes on filling after it. */
  private cut(): void {
    if (this.off > this.segStart) {
      this.segs.push(this.cur.subarray(this.segStart, this.off));
      this.segStart = this.off;
    }
  }

  /** Close the buffer being filled (it becomes a segment) and start one with room for `need` bytes. */
  private rotate(need: number): void {
    this.cut();
    if (this.off > 0) {
      if (freeChunks.has(this.cur.length)) this.chunks.push(this.cur);
      this.cur = Buffer.allocUnsafe(0);
      this.off = 0;
      this.segStart = 0;
    }
    // a short reply gets a small buffer; a response that outgrows it continues in big ones
    if (need > this.cur.length) {
      const size = Math.max(this.segs.length ? OUT_CHUNK : SMALL_CHUNK, need);
      this.cur = freeChunks.get(size)?.pop() ?? Buffer.allocUnsafe(size);
    }
  }

  /**
   * Write what is queued once it is big, waiting for 'drain' (back-pressure). Then let the
   * event loop run: other sessions take turns with a long FETCH instead of waiting for its end.
   */
  maybeFlush(): Promise<void> | undefined {
    // no promise when there is nothing to do: a FETCH of 5,000 messages awaits only what it must
    return this.outBytes >= FLUSH_AT ? this.flushAndYield() : undefined;
  }

  private async flushAndYield(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  async flush(): Promise<void> {
    if (this.text) this.encodeText();
    this.rotate(0);
    const segs = this.segs;
    const chunks = this.chunks;
    this.segs = [];
    this.chunks = [];
    this.outBytes = 0;
    if (!segs.length || this.closed) return;
    if (this.deflate) {
      const d = this.deflate;
      d.write(segs.length === 1 ? segs[0] : Buffer.concat(segs));
      await new Promise<void>((resolve) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
      if (this.sock.writableNeedDrain) return this.drained();
      return;
    }
    // one writev for all segments, no concatenation
    this.sock.cork();
    let ok = true;
    for (let i = 0; i < segs.length - 1; i++) ok = this.sock.write(segs[i]) && ok;
    // once the last piece is written (or the socket is gone) the output buffers can be used again
    ok = this.sock.write(segs[segs.length - 1], chunks.length ? () => recycle(chunks) : undefined) && ok;
    this.sock.uncork();
    if (!ok) return this.drained();
  }

  /** Wait until the client has read what we wrote; one that stops reading is dropped after the idle timeout. */
  private async drained(): Promise<void> {
    if (this.closed) return;
    const sock = this.sock;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.hooks.log.info('client stopped reading; dropping it');
        sock.destroy();
        done();
      }, this.hooks.drainTimeoutMs);
      const done = () => { clearTimeout(timer); sock.off('drain', done); sock.off('close', done); resolve(); };
      sock.on('drain', done);
      sock.on('close', done);
    });
  }

  /** RFC 4978 §3: after the tagged OK, everything is raw DEFLATE; `rest` (read already) is compressed too. */
  startCompression(rest: Buffer): void {
    const inflate = zlib.createInflateRaw({ chunkSize: 64 * 1024 });
    const deflate = zlib.createDeflateRaw({ level: 6 });
    const sock = this.sock;
    sock.off('data', this.handlers.data);
    sock.on('data', (d: Buffer) => inflate.write(d));
    inflate.on('data', (d: Buffer) => this.hooks.onData(d));
    inflate.on('error', (err) => { this.hooks.log.info({ err: err.message }, 'bad DEFLATE data'); sock.destroy(); this.hooks.onClose(); });
    deflate.on('data', (d: Buffer) => { if (!sock.destroyed) sock.write(d); });
    deflate.on('error', () => sock.destroy());
    sock.on('close', () => { inflate.destroy(); deflate.destroy(); });
    this.deflate = deflate;
    if (this.hooks.wire) this.hooks.rec.note('DEFLATE on (RFC 4978): from here both directions are compressed on the wire; shown decompressed');
    if (rest.length) inflate.write(rest);
  }

  /** RFC 3501 §6.2.1: the TLS handshake on the same connection; resolves once it ends (or fails). */
  async startTls(secureContext: tls.SecureContext): Promise<void> {
    const plain = this.sock;
    this.detach(plain);
    plain.pause();
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext, ...TLS_POLICY });
    this.sock = secure;
    this.attach(secure);
    await new Promise<void>((resolve) => {
      secure.once('secure', () => { if (this.hooks.wire) this.hooks.rec.tls(tlsLine(secure)); resolve(); });
      secure.once('error', () => resolve());
      secure.once('close', () => resolve());
    });
  }
}
