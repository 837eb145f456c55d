// One login check for SMTP AUTH, IMAP LOGIN/AUTHENTICATE and POP3 USER/PASS/AUTH:
// scrypt verification plus a failure penalty per client IP and per account that grows
// exponentially (capped). It only delays: the real user is never locked out. The failures are
// counted in the store (store.penalties), so that every node sharing it sees the same counts:
// an attacker gains nothing by spreading guesses over the nodes behind a load balancer.
import { createHmac, randomBytes } from 'node:crypto';
import { metrics } from '../log/metrics.js';
import type { Store, UserRecord } from '../store/index.js';
import { dummyHash, verifyPassword } from './password.js';

export interface AuthResult { user: UserRecord | null; /** ms the caller should wait before answering a failure */ delayMs: number }

export class Authenticator {
  /**
   * Logins verified recently, as Dovecot's auth cache: a client that opens several connections
   * (Thunderbird opens up to five) or reconnects costs one scrypt, not one per connection.
   * Keyed by an HMAC, under a secret of this process, of account, stored hash and password: no
   * password is kept, and a changed password (a new stored hash) never matches. Value: expiry.
   */
  private verified = new Map<string, number>();
  /** verifications under way by the same key: connections opened together share one scrypt */
  private verifying = new Map<string, Promise<boolean>>();
  private readonly secret = randomBytes(32);
  /** for tests: password hashes computed, and logins answered from the cache */
  readonly stats = { scrypt: 0, cacheHits: 0 };

  constructor(
    private readonly store: Store,
    private readonly opts: { baseDelayMs?: number; maxDelayMs?: number; forgetAfterMs?: number; cacheTtlMs?: number } = {},
  ) {}

  private verifiedKey(account: string, storedHash: string, password: string): string {
    return createHmac('sha256', this.secret).update(account).update('\0').update(storedHash).update('\0').update(password).digest('base64');
  }

  private get forgetAfterMs(): number {
    return this.opts.forgetAfterMs ?? 15 * 60_000;
  }

  /** Failures seen from this IP recently, on any node sharing the store. */
  failures(ip: string): Promise<number> {
    return this.store.penalties.get(`ip:${ip}`, Date.now(), this.forgetAfterMs);
  }

  /** `protocol` names the failure in the metrics (smtp, imap, pop3, http) */
  async login(username: string, password: string, ip: string, protocol = 'other'): Promise<AuthResult> {
    const account = username.trim().toLowerCase();
    const rec = account.length <= 320 ? await this.store.users.passwordHash(account) : null;
    const ttl = this.opts.cacheTtlMs ?? 3_600_000;
    const key = rec && ttl > 0 ? this.verifiedKey(account, rec.hash, password) : null;
    const cached = key !== null && (this.verified.get(key) ?? 0) > Date.now();
    let ok = cached;
    if (cached) this.stats.cacheHits++;
    else if (key !== null) {
      let p = this.verifying.get(key);
      if (!p) {
        this.stats.scrypt++;
        p = verifyPassword(password, rec!.hash).finally(() => this.verifying.delete(key));
        this.verifying.set(key, p);
      }
      ok = await p;
    } else {
      this.stats.scrypt++;
      ok = await verifyPassword(password, rec ? rec.hash : await dummyHash());
    }
    const now = Date.now();
    const keys = [`ip:${ip}`, `account:${account}`];
    if (ok && rec) {
      // forgotten on every node; a store that cannot be reached now lets them expire instead
      await this.store.penalties.clear(keys).catch(() => undefined);
      if (key !== null && !cached) {
        this.verified.set(key, now + ttl);
        if (this.verified.size > 10_000) this.verified.delete(this.verified.keys().next().value as string); // bounded memory
      }
      return { user: rec.user, delayMs: 0 };
    }
    metrics.authFailures.inc({ protocol });
    // the store unreachable: the failure still costs the base delay
    const n = await this.store.penalties.fail(keys, now, this.forgetAfterMs).catch(() => 1);
    const base = this.opts.baseDelayMs ?? 250;
    const delayMs = Math.min(base * 2 ** (n - 1), this.opts.maxDelayMs ?? 8000);
    return { user: null, delayMs };
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
