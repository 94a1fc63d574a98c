/**
 * Places for what a worker runs at once: its jobs (WORKER_CONCURRENCY, shared by its pulls from
 * the shared consumer and each capped type's) and its webhook attempts (WEBHOOK_CONCURRENCY). A
 * pull asks only for as many deliveries as there are free places; one that arrives when another
 * pull has filled the last is given back (consumerPull.ts, webhookSenders.ts).
 */
export class Slots {
  #busy = 0;
  #waiting = new Set<() => void>();

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`slots: ${size} is not a positive count`);
  }

  get free(): number {
    return this.size - this.#busy;
  }

  /** Takes a place if one is free; false if none is. */
  take(): boolean {
    if (this.#busy >= this.size) return false;
    this.#busy++;
    return true;
  }

  /** Gives a place back and wakes whoever waits for one. */
  release(): void {
    if (this.#busy === 0) throw new Error("slots: released more than taken");
    this.#busy--;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const wake of waiting) wake();
  }

  /** Resolves when a place is free (at once if one is), or when `signal` aborts. */
  whenFree(signal: AbortSignal): Promise<void> {
    if (this.free > 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#waiting.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#waiting.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
