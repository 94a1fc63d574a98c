/**
 * Scenarios 1 and 2: end-to-end latency and throughput, open loop.
 *
 * C clients each hold one SSE stream on /v1/events. `echo` jobs are POSTed on a fixed schedule
 * (job i at t0 + i/rate, whatever the answers), round-robin over the clients; each job's payload
 * carries its step and index, which the `job.succeeded` event returns as its result. Latency is
 * measured from the job's *scheduled* send time, so a generator or server that falls behind shows
 * up in the figures instead of silently slowing the load (no coordinated omission).
 */
import http from "node:http";
import { postJob } from "./postJob.ts";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { SseConnection } from "./sse.ts";
import { Latency, type LatencySummary } from "./hist.ts";
import { CpuMeter, round, sleep } from "./procs.ts";

export interface E2eTarget {
  apiUrl: string;
  notifierUrl: string;
  /** Diagnostic (--watch-live): also subscribe to `live.>` here, to tell whether nats-server republished a missing event. */
  watchLive?: NatsConnection;
  /** Processes whose CPU is recorded per step. */
  pids: Record<string, number>;
  jsm: JetStreamManager;
}

export interface StepOptions {
  rate: number;
  durationS: number;
  /** How long to wait for the last events after the last send. */
  drainMs: number;
  /** Stop sending when more than rate × this many seconds of jobs are outstanding (overload). */
  abortBacklogS: number;
}

export interface StepResult {
  rate: number;
  durationS: number;
  scheduled: number;
  sent: number;
  accepted: number;
  errors: number;
  errorSamples: Record<string, number>;
  received: number;
  missing: number;
  duplicates: number;
  /** Events of this step's jobs that arrived after the drain time (counted in `missing` too). */
  late: number;
  /** `job.failed` / `job.canceled` / `job.retrying` events of this step's jobs (echo never fails by itself). */
  otherEvents: Record<string, number>;
  /** What GET /v1/jobs/:id says of (up to 20) jobs whose `job.succeeded` did not arrive in time. */
  missingDetail: Array<{
    i: number;
    jobId: string | null;
    state: unknown;
    sseGotEventId: string | null;
    republished?: boolean;
  }>;
  /** With --watch-live: live.<clientId>.> messages that came after a higher sequence of the same client. */
  liveOutOfOrder?: { count: number; samples: string[] };
  sseDrops: number;
  aborted: boolean;
  /** Accepted jobs per second actually sent (over the sending window). */
  sentPerS: number;
  /** Succeeded events received per second, from the first scheduled send to the last event. */
  completedPerS: number;
  /** Scheduled send → the client has `job.succeeded`. */
  latency: LatencySummary;
  /** Scheduled send → 202 answer. */
  ack: LatencySummary;
  /** How late the generator sent, compared with the schedule. */
  sendLag: LatencySummary;
  /** The generator's event-loop delay while sending (ms). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** % of one core per process over the sending window (generator = this process, total of all). */
  cpu: Record<string, number>;
  /** Mean size of a stored event's JSON (bytes), as received over SSE. */
  eventBytes: number;
  passed?: boolean;
}

interface Client {
  id: string;
  token: string;
  sse: SseConnection;
}

interface Current {
  stepId: number;
  n: number;
  jobIds: Array<string | undefined>;
  otherEvents: Record<string, number>;
  /** Set once the step's result is out: later events count as late. */
  result: StepResult | null;
  sched: Float64Array;
  done: Uint8Array;
  latency: Latency;
  received: number;
  duplicates: number;
  lastRecv: number;
}

const LOOP_RESOLUTION_MS = 2;

export class E2eBench {
  readonly target: E2eTarget;
  #clients: Client[] = [];
  #agent: http.Agent;
  #api: URL;
  #cur: Current | null = null;
  /** Earlier steps, still listening for late events. */
  #past = new Map<number, Current>();
  /** Every frame id (RESULTS sequence) the clients got in this step, with its event name: to tell where a missing event went. */
  #seen = new Map<number, string>();
  /** With watchLive: the RESULTS sequences nats-server republished on live.> in this step. */
  #republished = new Set<number>();
  #liveSub: Subscription | null = null;
  #lastLiveSeq = new Map<string, number>();
  #liveInversions = 0;
  #inversionSamples: string[] = [];
  #stepSeq = 0;
  #sseDrops = 0;
  #eventBytes = 0;
  #eventCount = 0;

  private constructor(target: E2eTarget) {
    this.target = target;
    this.#api = new URL(target.apiUrl);
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  }

  /** Opens one SSE stream per client and resolves when every one is subscribed. */
  static async open(target: E2eTarget, identities: { id: string; token: string }[]): Promise<E2eBench> {
    const b = new E2eBench(target);
    if (target.watchLive) {
      b.#liveSub = target.watchLive.subscribe("live.>", {
        callback: (err, m) => {
          if (err) return;
          const seq = Number(m.headers?.get("Nats-Sequence"));
          b.#republished.add(seq);
          // live.<clientId>.<jobId>: is each client's live stream in sequence order?
          const client = m.subject.slice(5, m.subject.indexOf(".", 5));
          const last = b.#lastLiveSeq.get(client) ?? 0;
          if (seq < last) {
            b.#liveInversions++;
            if (b.#inversionSamples.length < 5) b.#inversionSamples.push(`${client}: ${seq} after ${last}`);
          } else b.#lastLiveSeq.set(client, seq);
        },
      });
      await target.watchLive.flush();
    }
    let ready = 0;
    let failed: string | null = null;
    for (const who of identities) {
      const sse = new SseConnection(
        { url: `${target.notifierUrl}/v1/events`, token: who.token },
        {
          onReady: () => ready++,
          onEvent: (id, event, data) => {
            b.#seen.set(Number(id), event);
            b.#onEvent(event, data);
          },
          onClose: (reason) => {
            b.#sseDrops++;
            failed ??= reason;
          },
        },
      );
      b.#clients.push({ ...who, sse });
    }
    const deadline = Date.now() + 30_000;
    while (ready < identities.length) {
      if (failed) {
        b.close();
        throw new Error(`an SSE stream failed to open: ${failed}`);
      }
      if (Date.now() > deadline) {
        b.close();
        throw new Error(`only ${ready}/${identities.length} SSE streams opened in 30 s`);
      }
      await sleep(20);
    }
    return b;
  }

  #onEvent(event: string, data: string): void {
    if (event === "job.failed" || event === "job.canceled" || event === "job.retrying") {
      // Which step's job? Only the current step's are counted (the payload is not in these events).
      const cur = this.#cur;
      if (cur) cur.otherEvents[event] = (cur.otherEvents[event] ?? 0) + 1;
      return;
    }
    if (event !== "job.succeeded") return;
    let r: { s?: number; i?: number } | null;
    try {
      r = (JSON.parse(data) as { result: { s?: number; i?: number } | null }).result;
    } catch {
      return;
    }
    this.#eventBytes += Buffer.byteLength(data);
    this.#eventCount++;
    if (!r || typeof r.s !== "number" || typeof r.i !== "number") return;
    const cur = this.#cur?.stepId === r.s ? this.#cur : this.#past.get(r.s);
    if (!cur || r.i < 0 || r.i >= cur.n) return;
    const now = performance.now();
    if (cur.done[r.i]) {
      cur.duplicates++;
      if (cur.result) cur.result.duplicates++;
      return;
    }
    cur.done[r.i] = 1;
    if (cur.result) {
      // After the drain: still missing in the figures, but say that it came.
      cur.result.late++;
      return;
    }
    cur.received++;
    cur.lastRecv = now;
    cur.latency.recordMs(now - cur.sched[r.i]!);
  }

  /** Runs one step at a fixed rate; resolves when every event arrived (or the drain timed out). */
  async step(o: StepOptions): Promise<StepResult> {
    const stepId = ++this.#stepSeq;
    const n = Math.max(1, Math.round(o.rate * o.durationS));
    const interval = 1000 / o.rate;
    const latency = new Latency();
    const ack = new Latency();
    const sendLag = new Latency();
    const cur: Current = {
      stepId,
      n,
      jobIds: new Array<string | undefined>(n),
      otherEvents: {},
      result: null,
      sched: new Float64Array(n),
      done: new Uint8Array(n),
      latency,
      received: 0,
      duplicates: 0,
      lastRecv: 0,
    };
    const drops0 = this.#sseDrops;
    this.#seen.clear();
    this.#republished.clear();
    this.#liveInversions = 0;
    this.#inversionSamples = [];
    this.#eventBytes = 0;
    this.#eventCount = 0;
    this.#cur = cur;

    let sent = 0;
    let answered = 0;
    let accepted = 0;
    let errors = 0;
    const errorSamples: Record<string, number> = {};
    const countError = (what: string) => {
      errors++;
      errorSamples[what] = (errorSamples[what] ?? 0) + 1;
    };
    let aborted = false;

    const send = (i: number, now: number) => {
      const client = this.#clients[i % this.#clients.length]!;
      cur.sched[i] = t0 + i * interval;
      sendLag.recordMs(now - cur.sched[i]!);
      const body = `{"type":"echo","payload":{"s":${stepId},"i":${i}}}`;
      postJob(
        { agent: this.#agent, api: this.#api, token: client.token, body },
        (status, onBody) => {
          ack.recordMs(performance.now() - cur.sched[i]!);
          if (status === 202) accepted++;
          else countError(`HTTP ${status}`);
          onBody((text) => {
            answered++;
            if (status === 202) cur.jobIds[i] = /"jobId":"([^"]+)"/.exec(text)?.[1];
          });
        },
        (err) => {
          answered++;
          countError(err.message);
        },
      );
      sent++;
    };

    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    const cpu = new CpuMeter(this.target.pids);
    let cpuRead: Record<string, number> = {};
    const t0 = performance.now() + 20;
    loop.enable();
    await new Promise<void>((resolve) => {
      let next = 0;
      const pump = () => {
        const now = performance.now();
        while (next < n && t0 + next * interval <= now) send(next++, now);
        const outstanding = sent - cur.received - errors;
        if (next < n && outstanding > o.rate * o.abortBacklogS) aborted = true;
        if (next >= n || aborted) return resolve();
        setTimeout(pump, Math.max(0, Math.min(1, t0 + next * interval - now)));
      };
      setTimeout(pump, 20);
    });
    const sendEnd = performance.now();
    cpuRead = cpu.read();
    loop.disable();

    // Drain: every accepted job's event (and every answer), bounded.
    const drainDeadline = performance.now() + o.drainMs;
    while (performance.now() < drainDeadline) {
      if (answered >= sent && cur.received >= accepted) break;
      await sleep(10);
    }
    this.#cur = null;
    this.#past.set(stepId, cur);
    const received = cur.received;
    const result: StepResult = {
      rate: o.rate,
      durationS: o.durationS,
      scheduled: n,
      sent,
      accepted,
      errors,
      errorSamples,
      received,
      missing: Math.max(0, accepted - received),
      duplicates: cur.duplicates,
      late: 0,
      otherEvents: cur.otherEvents,
      missingDetail: [],
      sseDrops: this.#sseDrops - drops0,
      aborted,
      sentPerS: round(sent / ((sendEnd - t0) / 1000), 0),
      completedPerS: received ? round(received / ((cur.lastRecv - t0) / 1000), 0) : 0,
      latency: latency.summary(),
      ack: ack.summary(),
      sendLag: sendLag.summary(),
      // The histogram's values include the sampling interval itself.
      loopDelayP99Ms: round(Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS), 1),
      loopDelayMaxMs: round(Math.max(0, loop.max / 1e6 - LOOP_RESOLUTION_MS), 1),
      cpu: cpuRead,
      eventBytes: this.#eventCount ? Math.round(this.#eventBytes / this.#eventCount) : 0,
    };
    cur.result = result;
    latency.destroy();
    ack.destroy();
    sendLag.destroy();
    await this.waitIdle();
    // Then ask about what is still missing (late events may have come meanwhile).
    if (result.missing > result.late) await this.#explainMissing(cur, result);
    if (this.#liveSub) result.liveOutOfOrder = { count: this.#liveInversions, samples: this.#inversionSamples };
    return result;
  }

  /** Asks the API for the state of (up to 20) accepted jobs whose `job.succeeded` did not arrive. */
  async #explainMissing(cur: Current, result: StepResult): Promise<void> {
    for (let i = 0; i < cur.n && result.missingDetail.length < 20; i++) {
      const jobId = cur.jobIds[i];
      if (cur.done[i] || jobId === undefined) continue;
      const client = this.#clients[i % this.#clients.length]!;
      let state: unknown;
      try {
        const res = await fetch(`${this.target.apiUrl}/v1/jobs/${jobId}`, {
          headers: { authorization: `Bearer ${client.token}` },
          signal: AbortSignal.timeout(5_000),
        });
        state = { http: res.status, ...((await res.json()) as object) };
      } catch (err) {
        state = { error: String(err) };
      }
      const eventId = (state as { eventId?: number }).eventId;
      result.missingDetail.push({
        i,
        jobId,
        state,
        sseGotEventId: eventId !== undefined ? (this.#seen.get(eventId) ?? null) : null,
        ...(this.#liveSub && eventId !== undefined ? { republished: this.#republished.has(eventId) } : {}),
      });
    }
  }

  /** Waits (bounded) until herald has no queued or running job left, e.g. after an aborted step. */
  async waitIdle(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const info = await this.target.jsm.streams.info("JOBS");
      if (info.state.messages === 0) return;
      await sleep(100);
    }
  }

  close(): void {
    this.#liveSub?.unsubscribe();
    for (const c of this.#clients) c.sse.close();
    this.#agent.destroy();
  }
}

export function passes(r: StepResult, p99LimitMs: number): boolean {
  return (
    !r.aborted &&
    r.errors === 0 &&
    r.missing === 0 &&
    r.duplicates === 0 &&
    r.sseDrops === 0 &&
    r.sent === r.scheduled &&
    r.latency.p99 < p99LimitMs
  );
}

/**
 * Scenario 2: the highest rate that passes for the full `durationS`: scenario 1's best rate held
 * that long first, then stepping up from it (bisecting once a failing rate is known), at most
 * `maxSteps` more steps.
 */
export async function stepUp(
  bench: E2eBench,
  known: StepResult[],
  o: {
    durationS: number;
    maxSteps: number;
    p99LimitMs: number;
    drainMs: number;
    abortBacklogS: number;
    log: (s: string) => void;
  },
): Promise<{ steps: StepResult[]; best: number | null; bestFrom: "scenario 2" | "scenario 1" | null }> {
  let lo: number | null = null;
  let hi: number | null = null;
  for (const r of known) {
    if (passes(r, o.p99LimitMs)) lo = Math.max(lo ?? 0, r.rate);
  }
  for (const r of known) {
    if (!passes(r, o.p99LimitMs) && (lo === null || r.rate > lo)) hi = Math.min(hi ?? Infinity, r.rate);
  }
  const steps: StepResult[] = [];
  let best: number | null = null;
  const run = async (rate: number): Promise<boolean> => {
    o.log(`  scenario 2: ${rate} jobs/s for ${o.durationS} s`);
    const r = await bench.step({ rate, durationS: o.durationS, drainMs: o.drainMs, abortBacklogS: o.abortBacklogS });
    r.passed = passes(r, o.p99LimitMs);
    o.log(`    ${describe(r)}`);
    steps.push(r);
    if (r.passed) best = Math.max(best ?? 0, rate);
    return r.passed;
  };
  // Scenario 1's steps are shorter than "sustained": its best rate is held for the full duration
  // first, and only a rate that passed here counts.
  if (lo !== null && !(await run(lo))) {
    hi = lo;
    const lower = known.filter((r) => r.rate < hi! && passes(r, o.p99LimitMs)).map((r) => r.rate);
    lo = lower.length ? Math.max(...lower) : null;
  }
  for (let k = 0; k < o.maxSteps; k++) {
    let next: number;
    if (hi === null) next = lo === null ? 250 : lo * 1.5;
    else if (lo === null) next = hi / 2;
    else {
      if (hi - lo <= Math.max(100, lo * 0.1)) break;
      next = (lo + hi) / 2;
    }
    next = Math.max(50, Math.round(next / 50) * 50);
    if (await run(next)) lo = next;
    else hi = next;
  }
  return { steps, best, bestFrom: best === null ? null : "scenario 2" };
}

export function describe(r: StepResult): string {
  const l = r.latency;
  return (
    `sent ${r.sent}/${r.scheduled}${r.aborted ? " (ABORTED: overloaded)" : ""}, done ${r.received}, ` +
    `errors ${r.errors}, missing ${r.missing}, completed ${r.completedPerS}/s, ` +
    `p50 ${l.p50} p99 ${l.p99} max ${l.max} ms, cpu ${JSON.stringify(r.cpu)}`
  );
}
