// Connection limits shared by every listener: in total and per client address, so that one
// address holding many idle connections (a slowloris) cannot starve everyone else.

export type Refusal = 'total' | 'per-ip';

export class ConnectionLimiter {
  private total = 0;
  private readonly perIp = new Map<string, number>();

  constructor(private readonly maxTotal: number, private readonly maxPerIp: number) {}

  /** Take a slot for a new connection: a release function, or why it is refused. */
  acquire(ip: string): (() => void) | Refusal {
    if (this.total >= this.maxTotal) return 'total';
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp) return 'per-ip';
    this.total++;
    this.perIp.set(ip, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const m = (this.perIp.get(ip) ?? 1) - 1;
      if (m <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, m);
    };
  }

  get open(): number {
    return this.total;
  }
}
