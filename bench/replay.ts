/**
 * Scenario 5: replay. N events are stored straight into RESULTS for one client (as a worker would
 * store them: results.<clientId>.<jobId>, a JobEvent envelope), then the client "reconnects" with
 * Last-Event-ID = the sequence before them, and the time until it has the N-th is measured, with
 * the notifier's RSS polled meanwhile (and its VmHWM, the kernel's peak, read after).
 */
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { ulid } from "ulid";
import { encodeEvent, resultSubject, type JobEvent } from "../libs/contracts/mod.ts";
import { SseConnection } from "./sse.ts";
import { CpuMeter, memory, round, sleep } from "./procs.ts";

export interface ReplayResult {
  events: number;
  publishS: number;
  publishPerS: number;
  ok: boolean;
  received: number;
  gaps: number;
  outOfOrder: number;
  firstEventMs: number;
  totalMs: number;
  eventsPerS: number;
  mbPerS: number;
  rssBeforeMB: number;
  rssPeakMB: number;
  rssAfterMB: number;
  hwmMB: number;
  error?: string;
  cpu: Record<string, number>;
}

const MB = 1024 * 1024;

export async function replayBench(o: {
  natsUrl: string;
  notifierUrl: string;
  notifierPid: number;
  natsPid: number;
  mint: (clientId: string) => Promise<string>;
  counts: number[];
  timeoutMs: number;
  log: (s: string) => void;
}): Promise<ReplayResult[]> {
  const nc = await connect({ servers: o.natsUrl, name: "herald-bench-replay" });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const out: ReplayResult[] = [];
  try {
    for (const n of o.counts) {
      const clientId = `bench-replay-${n}-${Date.now()}`;
      const token = await o.mint(clientId);
      const before = (await jsm.streams.info("RESULTS")).state.last_seq;

      // Store n events, 256 publishes in flight.
      const tp = performance.now();
      let next = 0;
      const at = new Date().toISOString();
      await Promise.all(
        Array.from({ length: 256 }, async () => {
          for (;;) {
            const i = next++;
            if (i >= n) return;
            const jobId = ulid();
            const ev: JobEvent = {
              jobId,
              clientId,
              type: "echo",
              event: "succeeded",
              attempt: 1,
              progress: null,
              result: { s: 0, i },
              error: null,
              at,
            };
            await js.publish(resultSubject(clientId, jobId), encodeEvent(ev));
          }
        }),
      );
      const publishS = (performance.now() - tp) / 1000;
      const last = (await jsm.streams.info("RESULTS")).state.last_seq;
      o.log(`  scenario 5: stored ${n} events in ${round(publishS, 1)} s (RESULTS seq ${before + 1}..${last})`);

      await sleep(500);
      const rssBefore = memory(o.notifierPid).rss;
      let peak = rssBefore;
      const poll = setInterval(() => {
        const m = memory(o.notifierPid).rss;
        if (m > peak) peak = m;
      }, 20);
      const cpu = new CpuMeter({ notifier: o.notifierPid, "nats-server": o.natsPid });
      let received = 0;
      let gaps = 0;
      let outOfOrder = 0;
      let bytes = 0;
      let prev = before;
      let firstAt = 0;
      let error: string | undefined;
      const t0 = performance.now();
      let doneAt = 0;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          error = `timed out after ${o.timeoutMs} ms with ${received}/${n}`;
          conn.close();
          resolve();
        }, o.timeoutMs);
        const conn = new SseConnection(
          { url: `${o.notifierUrl}/v1/events`, token, lastEventId: String(before) },
          {
            onEvent: (id, event, data) => {
              if (event === "gap") {
                gaps++;
                return;
              }
              if (!firstAt) firstAt = performance.now();
              const seq = Number(id);
              if (seq !== prev + 1) outOfOrder++;
              prev = seq;
              bytes += data.length;
              received++;
              if (received >= n) {
                doneAt = performance.now();
                clearTimeout(timer);
                conn.close();
                resolve();
              }
            },
            onClose: (reason) => {
              error = `stream closed: ${reason}`;
              clearTimeout(timer);
              resolve();
            },
          },
        );
      });
      const cpuRead = cpu.read();
      clearInterval(poll);
      const peakAfter = Math.max(peak, memory(o.notifierPid).rss);
      const totalMs = (doneAt || performance.now()) - t0;
      const ok = !error && received === n && gaps === 0 && outOfOrder === 0 && prev === last;
      await sleep(300);
      const r: ReplayResult = {
        events: n,
        publishS: round(publishS, 2),
        publishPerS: Math.round(n / publishS),
        ok,
        received,
        gaps,
        outOfOrder,
        firstEventMs: firstAt ? round(firstAt - t0, 1) : NaN,
        totalMs: round(totalMs, 0),
        eventsPerS: Math.round(received / (totalMs / 1000)),
        mbPerS: round(bytes / MB / (totalMs / 1000), 1),
        rssBeforeMB: round(rssBefore / MB, 1),
        rssPeakMB: round(peakAfter / MB, 1),
        rssAfterMB: round(memory(o.notifierPid).rss / MB, 1),
        hwmMB: round(memory(o.notifierPid).hwm / MB, 1),
        cpu: cpuRead,
        ...(error ? { error } : {}),
      };
      o.log(
        `    replayed ${received}/${n} in ${r.totalMs} ms (${r.eventsPerS}/s), RSS ${r.rssBeforeMB} → peak ${r.rssPeakMB} MB${error ? `, ${error}` : ""}`,
      );
      out.push(r);
    }
  } finally {
    await nc.close();
  }
  return out;
}
