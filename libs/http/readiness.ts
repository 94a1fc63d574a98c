/**
 * What an app must have before it takes traffic, beyond NATS and the streams that /readyz always
 * checks: each part of it that can be not ready while the connection is up adds a named check
 * (the notifier: its live feed, which after losing its place re-reads where RESULTS ends, and
 * meanwhile turns streams away). /readyz answers 503 while any check is false, so a load balancer
 * sends the requests to another instance instead of to a stream of 503s.
 * The design: docs/design.md, "The service runner".
 */
export class Readiness {
  readonly #checks = new Map<string, () => boolean>();

  add(name: string, check: () => boolean): void {
    this.#checks.set(name, check);
  }

  /** Each check's answer now, by name. */
  results(): Record<string, boolean> {
    return Object.fromEntries([...this.#checks].map(([name, check]) => [name, check()]));
  }
}
