// Progress of a long import, export or backup on stderr, when stderr is a terminal:
// one line rewritten in place (messages done / total, MB/s), at most five times a second.

export class Progress {
  private messages = 0;
  private bytes = 0;
  private last = 0;
  private readonly started = Date.now();
  private label = '';
  private total: { messages?: number; bytes?: number } = {};

  constructor(private readonly out: NodeJS.WriteStream | null = process.stderr.isTTY ? process.stderr : null) {}

  /** a new folder: its name and what is known of its size */
  folder(label: string, total: { messages?: number; bytes?: number }): void {
    this.label = label;
    this.total = total;
    this.draw(true);
  }

  /** `bytesAt`: where in the folder's bytes we are (an mbox file offset), when known */
  tick(messages: number, bytes: number): void {
    this.messages += messages;
    this.bytes += bytes;
    this.draw(false);
  }

  private draw(force: boolean): void {
    if (!this.out) return;
    const now = Date.now();
    if (!force && now - this.last < 200) return;
    this.last = now;
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const of = this.total.messages !== undefined ? `/${this.total.messages}` : '';
    const line = `${this.label}  ${this.messages}${of} messages  ${(this.bytes / 1e6).toFixed(1)} MB  ${(this.bytes / 1e6 / secs).toFixed(1)} MB/s  ${Math.round(this.messages / secs)} msg/s`;
    this.out.write(`\r\x1b[K${line.slice(0, (this.out.columns || 100) - 1)}`);
  }

  done(): void {
    if (this.out) this.out.write('\r\x1b[K');
  }
}
