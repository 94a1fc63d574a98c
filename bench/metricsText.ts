// Reading an app's /metrics (Prometheus text) in the bench: one parser for every scenario.

/** Prometheus text: the sum of every sample of `name` (any labels), or null if there is none. */
export function metricSum(text: string, name: string): number | null {
  let found = false;
  let sum = 0;
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN|[+-]Inf)$`, "gm");
  for (const m of text.matchAll(re)) {
    found = true;
    const v = Number(m[1]);
    if (Number.isFinite(v)) sum += v;
  }
  if (found) return sum;
  // A labelled counter nobody incremented yet has no sample, only its # TYPE line: that is a 0.
  return new RegExp(`^# TYPE ${name} `, "m").test(text) ? 0 : null;
}

/** A histogram's count and its q-quantile estimated from the buckets (linear within a bucket, as histogram_quantile does). */
export function histogramQuantile(
  text: string,
  name: string,
  q: number,
): { count: number | null; quantile: number | null } {
  const buckets = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{([^}]*)\\} ([0-9.eE+-]+)$`, "gm");
  for (const m of text.matchAll(re)) {
    const le = /le="([^"]+)"/.exec(m[1]!)?.[1];
    if (le === undefined) continue;
    const bound = le === "+Inf" ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(m[2]));
  }
  const count = metricSum(text, `${name}_count`);
  if (!buckets.size || !count) return { count, quantile: null };
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const rank = q * count;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, c] of sorted) {
    if (c >= rank) {
      if (le === Infinity) return { count, quantile: prevLe }; // beyond the last finite bound: that bound
      const inBucket = c - prevCount;
      return { count, quantile: inBucket > 0 ? prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket : le };
    }
    prevLe = le;
    prevCount = c;
  }
  return { count, quantile: prevLe };
}
