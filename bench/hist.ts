import * as hdr from "hdr-histogram-js";

/** Latencies recorded in microseconds, reported in milliseconds. */
export class Latency {
  readonly h: hdr.Histogram;
  constructor() {
    this.h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 600_000_000,
      numberOfSignificantValueDigits: 3,
    });
  }

  recordMs(ms: number): void {
    const us = Math.max(1, Math.min(600_000_000, Math.round(ms * 1000)));
    this.h.recordValue(us);
  }

  get count(): number {
    return this.h.totalCount;
  }

  summary(): LatencySummary {
    const at = (p: number) => (this.h.totalCount ? Math.round(this.h.getValueAtPercentile(p) / 10) / 100 : NaN);
    return {
      count: this.h.totalCount,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: this.h.totalCount ? Math.round(this.h.maxValue / 10) / 100 : NaN,
      mean: this.h.totalCount ? Math.round(this.h.mean / 10) / 100 : NaN,
    };
  }

  destroy(): void {
    this.h.destroy();
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}
