// Progress of a long import, export or backup on stderr, when stderr is a terminal:
// one line rewritten in place (the folder: % of its bytes or messages done / total; all: messages,
// MB, MB/s, messages/s), at most five times a second.

export class Progress {
  private messages = 0;
  private bytes = 0;
  private folderBytes = 0;
  private folderMessages = 0;
  private last = 0;
  private readonly started = Date.now();
  private label = '';
  private total: { messages?: number; bytes?: number } = {};

  constructor(private readonly out: NodeJS.WriteStream | null = process.stderr.isTTY ? process.stderr : null) {}

  /** a new folder: its name and what is known of its size */
  folder(label: string, total: { messages?: number; bytes?: number }): void {
    this.label = label;
    this.total = total;
    this.folderBytes = 0;
    this.folderMessages = 0;
    this.draw(true);
  }

  tick(messages: number, bytes: number): void {
    this.messages += messages;
    this.bytes += bytes;
    this.folderBytes += bytes;
    this.folderMessages += messages;
    this.draw(false);
  }

  private draw(force: boolean): void {
    if (!this.out) return;
    const now = Date.now();
    if (!force && now - this.last < 200) return;
    this.last = now;
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const of = this.total.messages !== undefined ? `/${this.total.messages}` : '';
    const pct = this.total.bytes ? `  ${Math.min(100, Math.floor((this.folderBytes / this.total.bytes) * 100))}%` : '';
    const line = `${this.label}${pct}  ${this.folderMessages}${of} messages  (all: ${this.messages}, ${(this.bytes / 1e6).toFixed(1)} MB)  ${(this.bytes / 1e6 / secs).toFixed(1)} MB/s  ${Math.round(this.messages / secs)} msg/s`;
    this.out.write(`\r\x1b[K${line.slice(0, (this.out.columns || 100) - 1)}`);
  }

  done(): void {
    if (this.out) this.out.write('\r\x1b[K');
  }
}
