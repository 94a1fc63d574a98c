import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Gauge } from "prom-client";
import { eventNameOf, isTerminal, LIVE_PREFIX, liveJobSubject, type JobEvent } from "../../libs/contracts/mod.ts";
import type { StoredEvent } from "../../libs/results/mod.ts";

/**
 * How a wait ended: the job's terminal event as it came live; the deadline; the client went away;
 * the api is stopping (answer with the state as it is now); NATS went away (nothing can be read).
 */
export type WaitEnd =
  | { kind: "ended"; event: StoredEvent }
  | { kind: "deadline" }
  | { kind: "gone" }
  | { kind: "released" }
  | { kind: "nats_down" };

/** One request waiting for its job to end. */
export interface JobWait {
  /**
   * Resolves once this process's live subscription is confirmed by the server: a terminal event
   * stored after that reaches the wait, so a read made after it misses nothing.
   */
  readonly ready: Promise<void>;
  /**
   * The job's end, or why the wait ended without it: at most `ms`, at once if the terminal event
   * already came (while the job's state was being read), `gone` as soon as `gone` aborts.
   */
  ended(ms: number, gone: AbortSignal): Promise<WaitEnd>;
  /** Unregisters the wait (any number of times); a request always calls it when it answers. */
  cancel(): void;
}

/**
 * The api's waits for jobs to end (GET /v1/jobs/:id?wait=): one core NATS subscription per process
 * to `live.*.*` (RESULTS' republish), and a map from each waited-for job's live subject to its
 * waiters. A wait costs a map entry and a timer: no JetStream consumer, no subscription of its own,
 * no SUB/UNSUB or round trip to NATS, however many wait at once.
 *
 * Why not a subscription per wait: it would be cheap for the server too, but each must be confirmed
 * (a flush: one round trip) before the job's state is read, and thousands of waits arriving or
 * answered together are thousands of SUB/UNSUB. The price of one subscription is that this process
 * receives every job's live events while it holds it, and drops those nobody here waits for (a map
 * lookup on the subject; the data is not decoded). So it subscribes only at the first wait it
 * serves: an api that never gets one receives nothing.
 *
 * The republish is best-effort core NATS: a live message can be missed (a reconnect, a slow
 * consumer). A waiter then learns of the end at its deadline, when the job's state is read again.
 * The design: docs/design.md, "Waiting for a job".
 */
export class JobWaiters {
  #nc: NatsConnection;
  #gauge: Gauge;
  #bySubject = new Map<string, Set<Waiter>>();
  #sub: Subscription | null = null;
  #confirmed: Promise<void> | null = null;
  #waiting = 0;

  constructor(nc: NatsConnection, gauge: Gauge) {
    this.#nc = nc;
    this.#gauge = gauge;
  }

  /** Registers a wait for the job's end, synchronously: call it before reading the job's state. */
  register(clientId: string, jobId: string): JobWait {
    const subject = liveJobSubject(clientId, jobId);
    const waiter = new Waiter(this, subject);
    let set = this.#bySubject.get(subject);
    if (!set) this.#bySubject.set(subject, (set = new Set()));
    set.add(waiter);
    waiter.ready = this.#subscribe();
    return waiter;
  }

  /** Ends every wait now (the api is stopping: `released`; NATS went away: `nats_down`). */
  releaseAll(kind: "released" | "nats_down"): void {
    for (const set of [...this.#bySubject.values()]) for (const w of [...set]) w.settle({ kind });
  }

  /** Releases every wait and drops the subscription (the api's close). */
  stop(): void {
    this.releaseAll("released");
    this.#sub?.unsubscribe();
    this.#sub = null;
    this.#confirmed = null;
  }

  /** @internal Waiter's bookkeeping. */
  unregister(w: Waiter): void {
    const set = this.#bySubject.get(w.subject);
    if (!set?.delete(w)) return;
    if (set.size === 0) this.#bySubject.delete(w.subject);
  }

  /** @internal A waiter starts or stops waiting (past its first read of the job's state): the gauge. */
  countWaiting(delta: 1 | -1): void {
    this.#waiting += delta;
    this.#gauge.set(this.#waiting);
  }

  #subscribe(): Promise<void> {
    this.#sub ??= this.#nc.subscribe(`${LIVE_PREFIX}.*.*`, {
      callback: (err, m) => {
        if (!err) this.#onLive(m);
      },
    });
    // The server has the interest once a flush comes back; a failed flush (NATS down) is tried again
    // by the next wait.
    this.#confirmed ??= this.#nc.flush().catch((err: unknown) => {
      this.#confirmed = null;
      throw err;
    });
    return this.#confirmed;
  }

  #onLive(m: Msg): void {
    const set = this.#bySubject.get(m.subject);
    if (!set) return;
    const text = m.string();
    const name = eventNameOf(text);
    if (!name || !isTerminal(name)) return;
    const seq = Number(m.headers?.get("Nats-Sequence"));
    let event: JobEvent;
    try {
      event = JSON.parse(text) as JobEvent;
    } catch {
      return;
    }
    const end: WaitEnd = { kind: "ended", event: { seq, event } };
    for (const w of [...set]) w.settle(end);
  }
}

class Waiter implements JobWait {
  readonly subject: string;
  ready: Promise<void> = Promise.resolve();
  #waiters: JobWaiters;
  /** An end that came before `ended` was called (during the read of the job's state). */
  #early: WaitEnd | null = null;
  #resolve: ((end: WaitEnd) => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #gone: AbortSignal | null = null;
  #done = false;

  constructor(waiters: JobWaiters, subject: string) {
    this.#waiters = waiters;
    this.subject = subject;
  }

  ended(ms: number, gone: AbortSignal): Promise<WaitEnd> {
    if (this.#early) return Promise.resolve(this.#early);
    if (this.#done) return Promise.resolve({ kind: "released" });
    if (gone.aborted) return Promise.resolve({ kind: "gone" });
    return new Promise<WaitEnd>((resolve) => {
      this.#resolve = resolve;
      this.#waiters.countWaiting(1);
      this.#timer = setTimeout(() => this.settle({ kind: "deadline" }), ms);
      this.#gone = gone;
      gone.addEventListener("abort", this.#onGone, { once: true });
    });
  }

  #onGone = () => this.settle({ kind: "gone" });

  settle(end: WaitEnd): void {
    if (this.#done) return;
    const resolve = this.#resolve;
    if (!resolve) {
      // Not waiting yet: keep the end for `ended`, and stay registered until the request answers.
      this.#early ??= end;
      return;
    }
    this.#resolve = null;
    this.#waiters.countWaiting(-1);
    this.cancel();
    resolve(end);
  }

  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.#waiters.unregister(this);
    const resolve = this.#resolve;
    if (resolve) {
      this.#resolve = null;
      this.#waiters.countWaiting(-1);
      resolve({ kind: "gone" });
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#gone?.removeEventListener("abort", this.#onGone);
  }
}
