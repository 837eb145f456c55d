// Connection limits shared by every listener (SMTP, IMAP, POP3): in total and per client address,
// so that one address holding many idle connections (a slowloris) cannot starve everyone else.
//
// One address is often many users (a NAT, a company proxy, a container gateway), so a full
// address must not lock its own real users out either. As Dovecot's login processes do, a
// newcomer that finds the limit reached first evicts the longest-idle connection that has not
// logged in (and has no command or, on port 25, no transaction in progress); only when every
// held connection is logged in or busy is the newcomer refused. Under pressure (over 70% of a
// limit) connections that have not logged in get a short pre-authentication time-out, as
// Postfix's postscreen/anvil "stress" mode does (300 s -> 10 s).

export type Refusal = 'total' | 'per-ip';

/** What a listener tells the limiter about one of its connections. */
export interface SlotHolder {
  /** extra condition for eviction (e.g. SMTP: no transaction in progress); default: always */
  evictable?(): boolean;
  /** close the connection now, telling the client why (SMTP 421, IMAP BYE, POP3 -ERR) */
  evict(why: string): void;
}

/** the share of a limit above which pre-authentication time-outs shrink */
export const STRESS_RATIO = 0.7;

/**
 * The client as the per-address limit counts it: an IPv4 address (also when IPv4-mapped, as a
 * dual-stack listener reports it), or an IPv6 /64: one site or customer is given a whole /64
 * (RFC 6177), so counting single IPv6 addresses would let one client open a connection from each.
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(':')) return ip;
  const [head, tail = ''] = ip.toLowerCase().split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

/** One connection's place in the limits. */
export class Slot {
  /** ms since epoch of the client's last input */
  lastActive = Date.now();
  private authed = false;
  private busyCount = 0;
  private holder: SlotHolder | null = null;
  released = false;
  /** set when the limiter closed it (for logs and tests) */
  evicted: string | null = null;

  constructor(private readonly limiter: ConnectionLimiter, readonly ip: string, readonly id: number) {}

  /** Say who this is: until then the slot is never evicted. */
  attach(holder: SlotHolder): this {
    this.holder = holder;
    return this;
  }

  /** The client sent something: it moves to the back of the eviction order. */
  touch(): void {
    if (this.released) return;
    this.lastActive = Date.now();
    this.limiter.moved(this);
  }

  /** The client logged in: from now on it is never evicted for a newcomer. */
  authenticated(): void {
    if (this.authed) return;
    this.authed = true;
    this.limiter.loggedIn(this);
  }

  get isAuthenticated(): boolean {
    return this.authed;
  }

  /** A command (or transaction) is in progress: not evictable until busy(false). */
  busy(on: boolean): void {
    this.busyCount = Math.max(0, this.busyCount + (on ? 1 : -1));
  }

  get evictable(): boolean {
    return !this.released && !this.authed && this.busyCount === 0 && this.holder !== null && (this.holder.evictable?.() ?? true);
  }

  /** Give the slot back (idempotent: the limiter may have done it already when evicting). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.limiter.freed(this);
  }

  /** Close it to make room (called by the limiter only). */
  evict(why: string): void {
    const h = this.holder;
    this.evicted = why;
    this.release();
    try {
      h?.evict(why);
    } catch {
      // a holder that fails to say goodbye still lost its slot; its socket closes on its own
    }
  }
}

export interface LimiterOptions {
  /** ms of silence after which a connection that has not logged in is closed while under pressure (0: never) */
  stressPreauthTimeoutMs?: number;
  /** told about every eviction (the listeners log it) */
  onEvict?: (slot: Slot, why: 'newcomer' | 'stress', limit: Refusal) => void;
}

export class ConnectionLimiter {
  private total = 0;
  private readonly counts = new Map<string, number>();
  /**
   * The connections that have not logged in (the only ones ever evicted), least recently active
   * first: a Map keeps insertion order and touch() re-inserts. Logged-in ones leave these maps, so
   * a walk never steps over thousands of IDLE sessions.
   */
  private readonly waiting = new Map<number, Slot>();
  private readonly waitingFrom = new Map<string, Map<number, Slot>>();
  private nextId = 1;
  private sweeper: NodeJS.Timeout | null = null;
  /** evictions and refusals so far (tests, metrics, the dashboard) */
  readonly stats = { evictedForNewcomer: 0, evictedUnderStress: 0, refused: 0 };

  constructor(private readonly maxTotal: number, private readonly maxPerIp: number, private readonly opts: LimiterOptions = {}) {}

  /**
   * Take a slot for a new connection. At a limit, the longest-idle evictable connection (of that
   * address for the per-address limit, of anyone for the total) is closed to make room; when none
   * is evictable, the answer is why the newcomer is refused.
   */
  acquire(address: string): Slot | Refusal {
    const ip = clientKey(address);
    if (this.countOf(ip) >= this.maxPerIp && !this.evictOne(this.waitingFrom.get(ip), 'per-ip')) return this.refuse('per-ip');
    if (this.total >= this.maxTotal && !this.evictOne(this.waiting, 'total')) return this.refuse('total');
    const slot = new Slot(this, ip, this.nextId++);
    this.total++;
    this.counts.set(ip, this.countOf(ip) + 1);
    this.waiting.set(slot.id, slot);
    let m = this.waitingFrom.get(ip);
    if (!m) this.waitingFrom.set(ip, (m = new Map()));
    m.set(slot.id, slot);
    this.sweepStressed(ip);
    return slot;
  }

  private refuse(r: Refusal): Refusal {
    this.stats.refused++;
    return r;
  }

  /** Evict the least recently active evictable slot of `from`; false when there is none. */
  private evictOne(from: Map<number, Slot> | undefined, limit: Refusal): boolean {
    if (!from) return false;
    for (const s of from.values()) {
      if (!s.evictable) continue;
      this.stats.evictedForNewcomer++;
      this.opts.onEvict?.(s, 'newcomer', limit);
      s.evict(limit === 'per-ip' ? 'too many connections from your address; the longest idle one is closed to make room' : 'server busy; the longest idle connection is closed to make room');
      return true;
    }
    return false;
  }

  private stressedTotal(): boolean {
    return this.total > this.maxTotal * STRESS_RATIO;
  }

  private countOf(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  private stressedFrom(ip: string): boolean {
    return this.countOf(ip) > this.maxPerIp * STRESS_RATIO;
  }

  /** Is this address, or the server as a whole, over STRESS_RATIO of its limit? */
  underPressure(ip?: string): boolean {
    return this.stressedTotal() || (ip !== undefined && this.stressedFrom(ip));
  }

  /** The pre-authentication time-out to use now: the normal one, or the short one under pressure. */
  preauthTimeoutMs(address: string, normalMs: number): number {
    const stress = this.opts.stressPreauthTimeoutMs ?? 0;
    return stress > 0 && this.underPressure(clientKey(address)) ? Math.min(stress, normalMs) : normalMs;
  }

  /**
   * Stress mode: close connections that have not logged in and were silent for longer than the
   * short time-out, oldest first (the first one not old enough ends the walk).
   */
  private sweepStressed(ip?: string): void {
    const stress = this.opts.stressPreauthTimeoutMs ?? 0;
    if (stress <= 0) return;
    const cutoff = Date.now() - stress;
    const sweep = (from: Map<number, Slot> | undefined, limit: Refusal) => {
      if (!from) return;
      const old: Slot[] = [];
      for (const s of from.values()) {
        if (s.lastActive > cutoff) break;
        if (s.evictable) old.push(s);
      }
      for (const s of old) {
        this.stats.evictedUnderStress++;
        this.opts.onEvict?.(s, 'stress', limit);
        s.evict('idle too long before logging in while the server is busy');
      }
    };
    const total = this.stressedTotal();
    if (total) sweep(this.waiting, 'total');
    else if (ip !== undefined && this.stressedFrom(ip)) sweep(this.waitingFrom.get(ip), 'per-ip');
    // keep sweeping while under pressure, even when no newcomer arrives
    if (!this.sweeper && (total || (ip !== undefined && this.stressedFrom(ip)))) {
      this.sweeper = setInterval(() => this.tick(), Math.max(250, Math.min(stress / 4, 2000)));
      this.sweeper.unref();
    }
  }

  private tick(): void {
    if (this.stressedTotal()) return this.sweepStressed();
    let any = false;
    for (const ip of [...this.counts.keys()]) {
      if (!this.stressedFrom(ip)) continue;
      any = true;
      this.sweepStressed(ip);
    }
    if (!any && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  /** @internal a slot was touched: move it to the back of the eviction order */
  moved(s: Slot): void {
    if (!this.waiting.delete(s.id)) return;
    this.waiting.set(s.id, s);
    const m = this.waitingFrom.get(s.ip);
    if (m?.delete(s.id)) m.set(s.id, s);
  }

  /** @internal a slot logged in: it leaves the eviction order */
  loggedIn(s: Slot): void {
    this.unwait(s);
  }

  private unwait(s: Slot): void {
    this.waiting.delete(s.id);
    const m = this.waitingFrom.get(s.ip);
    if (m) {
      m.delete(s.id);
      if (m.size === 0) this.waitingFrom.delete(s.ip);
    }
  }

  /** @internal a slot was released */
  freed(s: Slot): void {
    this.unwait(s);
    this.total--;
    const n = this.countOf(s.ip) - 1;
    if (n <= 0) this.counts.delete(s.ip);
    else this.counts.set(s.ip, n);
  }

  /** Stop the stress sweeper (server shutdown). */
  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** open connections, all listeners together */
  get open(): number {
    return this.total;
  }

  /** open connections from one client (an address, or an IPv6 /64: clientKey) */
  openFrom(address: string): number {
    return this.counts.get(clientKey(address)) ?? 0;
  }
}
