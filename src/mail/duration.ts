// Durations as the config writes them: "90", "90s", "5m", "1h", "7d", "250ms".

/** "90", "90s", "5m", "1h", "5d", "250ms" -> milliseconds (a bare number is seconds) */
export function parseDuration(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(s);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(s)} (use e.g. 30s, 5m, 4h, 5d)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's').toLowerCase() as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}
