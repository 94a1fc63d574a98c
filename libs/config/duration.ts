const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `250ms`, `30s`, `5m`, `24h`, `7d`, or a bare number of milliseconds. Returns null if invalid. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return null;
  const value = Number(m[1]) * UNIT_MS[m[2] ?? "ms"]!;
  return Number.isFinite(value) ? Math.round(value) : null;
}
