/**
 * A load process for scenarios 6 and 7 (forked by bench/storm.ts): holds thousands of SSE streams,
 * each its own client (its own token), from several loopback source addresses, first on notifier A.
 * Once armed, a client whose stream ends reconnects — after the stream's last `retry:` — to the
 * URL it was given (notifier B, as a load balancer would send it), with `Last-Event-ID` set to the
 * last id it got (none if it got none). A 503 is retried after its `Retry-After` seconds (1 if
 * missing or unparseable), any other failure after 1 s, until the deadline. Every `job.*` event id
 * is checked (duplicates, order) and the job index of every `job.succeeded` is kept, so that the
 * parent can tell which accepted jobs never reached their client. Driven over IPC (advanced
 * serialization); exits when its parent goes.
 */
import { createTokens } from "../libs/auth/mod.ts";
import { SseConnection } from "./sse.ts";
import { serveLoadCommands } from "./loadProc.ts";

export type StormCommand =
  /** Mint the tokens of these clients (global indices; `active`: those that get jobs). */
  | { type: "prepare"; prefix: string; globals: number[]; active: number[]; defaultRetryMs: number }
  | { type: "open"; url: string; inflight: number; since?: string }
  /** From now on, an ended stream reconnects to `url`, until `deadline` (epoch ms). */
  | { type: "arm"; url: string; deadline: number }
  | { type: "stats" }
  | { type: "results" }
  | { type: "close" };

export interface StormStats {
  clients: number;
  /** Streams open now (on A or on B). */
  open: number;
  /** Clients whose stream ended since the arm. */
  ended: number;
  /** Clients served again (first frame on B) since the arm. */
  served: number;
  /** Clients that gave up (deadline) before being served. */
  gaveUp: number;
  /** Clients whose stream ended before the arm (an unexpected drop). */
  droppedEarly: number;
  sheds: number;
  failures: number;
  /** Distinct job indices whose `job.succeeded` reached its client. */
  succeeded: number;
  cpuS: number;
  rssMB: number;
}

export interface StormResults {
  /** Per client (epoch ms, NaN if never): the stream's end after the arm, the first reconnect attempt, served again. */
  endedAt: Float64Array;
  firstAttemptAt: Float64Array;
  servedAt: Float64Array;
  /** 1: the client's first reconnect carried a Last-Event-ID (it resumes: B reads RESULTS first); 0: live. */
  resumed: Uint8Array;
  /** Of the attempt that was served: its start → TCP connected, and TCP connected → the first frame (ms). */
  connectMs: Float64Array;
  firstFrameMs: Float64Array;
  attempts: number;
  sheds: number;
  failures: number;
  failReasons: Record<string, number>;
  /** Retry-After values (s) seen on 503s, and how often. */
  retryAfter: Record<string, number>;
  /** The `retry:` (ms) each client waited before its first reconnect: how many, least, most, sum. */
  retryUsed: { count: number; min: number; max: number; sum: number };
  /** Streams on B that ended again after the client was served (each reconnects again). */
  reDrops: number;
  droppedEarly: number;
  /** The job indices of every `job.succeeded` received (distinct). */
  succeeded: number[];
  jobEvents: number;
  duplicates: number;
  outOfOrder: number;
  samples: string[];
}

export type StormReply =
  | { type: "ready" }
  | { type: "prepared"; ms: number }
  | { type: "opened"; ok: number; failed: number; ms: number; reasons: Record<string, number> }
  | { type: "armed" }
  | { type: "stats"; stats: StormStats }
  | { type: "results"; results: StormResults }
  | { type: "closed" };

interface Client {
  g: number;
  token: string;
  localAddress: string | undefined;
  sse: SseConnection | null;
  lastEventId: string | undefined;
  retryMs: number;
  endedAt: number;
  firstAttemptAt: number;
  servedAt: number;
  resumed: boolean;
  attemptAt: number;
  connectedAt: number;
  connectMs: number;
  firstFrameMs: number;
  gaveUp: boolean;
  timer: NodeJS.Timeout | null;
  /** job.* ids received (active clients only: idle ones get none). */
  ids: Set<number> | null;
  maxId: number;
}

const index = Number(process.env.BENCH_LOAD_INDEX);
const addresses = (process.env.BENCH_LOCAL_ADDRESSES ?? "").split(",").filter(Boolean);
const tokens = createTokens([process.env.TOKEN_SECRET!], 3 * 3600_000);
const now = () => performance.timeOrigin + performance.now();

const clients: Client[] = [];
let armed = false;
let reconnectUrl = "";
let deadline = Infinity;
let closing = false;
let attempts = 0;
let sheds = 0;
let failures = 0;
const failReasons: Record<string, number> = {};
const retryAfterSeen: Record<string, number> = {};
const retryUsed = { count: 0, min: Infinity, max: -Infinity, sum: 0 };
let reDrops = 0;
let droppedEarly = 0;
let jobEvents = 0;
let duplicates = 0;
let outOfOrder = 0;
const samples: string[] = [];
const succeeded = new Set<number>();
const SUCCEEDED_RE = /"result":\{"g":(\d+),"i":(\d+)\}/;

function reply(r: StormReply): void {
  process.send!(r);
}

function sample(s: string): void {
  if (samples.length < 10) samples.push(`load ${index}: ${s}`);
}

function closeAll(): void {
  closing = true;
  for (const c of clients) {
    if (c.timer) clearTimeout(c.timer);
    c.sse?.close();
  }
}

function onEvent(c: Client, id: string, event: string, data: string): void {
  if (id !== "") c.lastEventId = id;
  if (!event.startsWith("job.")) return;
  jobEvents++;
  const n = Number(id);
  c.ids ??= new Set();
  if (c.ids.has(n)) {
    duplicates++;
    sample(`client ${c.g}: id ${n} again`);
  } else {
    if (n < c.maxId) {
      outOfOrder++;
      sample(`client ${c.g}: id ${n} after ${c.maxId}`);
    }
    c.ids.add(n);
  }
  if (n > c.maxId) c.maxId = n;
  if (event === "job.succeeded") {
    const m = SUCCEEDED_RE.exec(data);
    let i = m ? Number(m[2]) : NaN;
    if (!m) {
      try {
        i = Number((JSON.parse(data) as { result?: { i?: unknown } }).result?.i);
      } catch {
        // not an event of this bench's jobs
      }
    }
    if (Number.isInteger(i)) succeeded.add(i);
  }
}

/** The stream of a client that was served ended (A killed or stopping, or B dropped it). */
function onStreamEnd(c: Client, reason: string): void {
  c.sse = null;
  if (closing) return;
  if (!armed) {
    droppedEarly++;
    sample(`client ${c.g}: stream ended before the arm: ${reason}`);
    // Still reconnected (to B once armed, else to where it was): its events must go on.
  } else if (Number.isNaN(c.endedAt)) {
    c.endedAt = now();
    retryUsed.count++;
    retryUsed.sum += c.retryMs;
    retryUsed.min = Math.min(retryUsed.min, c.retryMs);
    retryUsed.max = Math.max(retryUsed.max, c.retryMs);
  } else if (!Number.isNaN(c.servedAt)) reDrops++;
  schedule(c, c.retryMs);
}

function schedule(c: Client, ms: number): void {
  if (closing) return;
  c.timer = setTimeout(() => {
    c.timer = null;
    reconnect(c);
  }, ms);
}

function reconnect(c: Client): void {
  if (closing) return;
  if (armed && now() > deadline) {
    c.gaveUp = true;
    return;
  }
  attempts++;
  c.attemptAt = now();
  c.connectedAt = NaN;
  if (armed && Number.isNaN(c.firstAttemptAt)) {
    c.firstAttemptAt = now();
    c.resumed = c.lastEventId !== undefined;
  }
  let sse: SseConnection;
  try {
    sse = connectTo(c);
  } catch (err) {
    failures++;
    failReasons[String(err)] = (failReasons[String(err)] ?? 0) + 1;
    schedule(c, 1000);
    return;
  }
  c.sse = sse;
}

function connectTo(c: Client): SseConnection {
  const sse: SseConnection = new SseConnection(
    {
      url: `${reconnectUrl}/v1/events`,
      token: c.token,
      ...(c.lastEventId !== undefined ? { lastEventId: c.lastEventId } : {}),
      ...(c.localAddress ? { localAddress: c.localAddress } : {}),
    },
    {
      onConnect: () => (c.connectedAt = now()),
      onReady: () => {
        if (armed && Number.isNaN(c.servedAt)) {
          c.servedAt = now();
          c.connectMs = c.connectedAt - c.attemptAt;
          c.firstFrameMs = c.servedAt - c.connectedAt;
        }
      },
      onRetry: (ms) => (c.retryMs = ms),
      onEvent: (id, event, data) => onEvent(c, id, event, data),
      onClose: (reason) => {
        if (sse.ready) return onStreamEnd(c, reason);
        c.sse = null;
        if (closing) return;
        if (sse.status === 503) {
          sheds++;
          const ra = sse.retryAfter ?? "";
          retryAfterSeen[ra || "(none)"] = (retryAfterSeen[ra || "(none)"] ?? 0) + 1;
          const s = /^\s*\d+(\.\d+)?\s*$/.test(ra) ? Number(ra) : 1;
          schedule(c, s * 1000);
        } else {
          failures++;
          failReasons[reason] = (failReasons[reason] ?? 0) + 1;
          if (failures <= 3) sample(`client ${c.g}: reconnect failed: ${reason}`);
          schedule(c, 1000);
        }
      },
    },
  );
  return sse;
}

/**
 * The first stream of each client, on A: with `since` as its Last-Event-ID (a real id of RESULTS,
 * so that every client holds an id and every return is a resume), else none (live).
 */
async function open(url: string, inflight: number, since: string | undefined): Promise<void> {
  const t0 = performance.now();
  let ok = 0;
  let failed = 0;
  const reasons: Record<string, number> = {};
  let next = 0;
  await new Promise<void>((resolve) => {
    let active = 0;
    const startOne = () => {
      while (active < inflight && next < clients.length) {
        const c = clients[next++]!;
        active++;
        let settled = false;
        const settle = (good: boolean, reason?: string) => {
          if (settled) return;
          settled = true;
          active--;
          if (good) ok++;
          else {
            failed++;
            reasons[reason ?? "?"] = (reasons[reason ?? "?"] ?? 0) + 1;
          }
          if (ok + failed >= clients.length) resolve();
          else startOne();
        };
        if (since !== undefined) c.lastEventId = since;
        const sse: SseConnection = new SseConnection(
          {
            url: `${url}/v1/events`,
            token: c.token,
            ...(since !== undefined ? { lastEventId: since } : {}),
            ...(c.localAddress ? { localAddress: c.localAddress } : {}),
          },
          {
            onReady: () => settle(true),
            onRetry: (ms) => (c.retryMs = ms),
            onEvent: (id, event, data) => onEvent(c, id, event, data),
            onClose: (reason) => {
              if (!settled) {
                c.sse = null;
                return settle(false, reason);
              }
              onStreamEnd(c, reason);
            },
          },
        );
        c.sse = sse;
      }
    };
    if (clients.length === 0) resolve();
    else startOne();
  });
  reply({ type: "opened", ok, failed, ms: performance.now() - t0, reasons });
}

function stats(): StormStats {
  let open = 0;
  let ended = 0;
  let served = 0;
  let gaveUp = 0;
  for (const c of clients) {
    if (c.sse && !c.sse.closed && c.sse.ready) open++;
    if (!Number.isNaN(c.endedAt)) ended++;
    if (!Number.isNaN(c.servedAt)) served++;
    if (c.gaveUp && Number.isNaN(c.servedAt)) gaveUp++;
  }
  const cpu = process.cpuUsage();
  return {
    clients: clients.length,
    open,
    ended,
    served,
    gaveUp,
    droppedEarly,
    sheds,
    failures,
    succeeded: succeeded.size,
    cpuS: (cpu.user + cpu.system) / 1e6,
    rssMB: Math.round(process.memoryUsage().rss / 1024 / 1024),
  };
}

serveLoadCommands<StormCommand>(closeAll, (m) => {
  switch (m.type) {
    case "prepare": {
      const t0 = performance.now();
      void (async () => {
        const active = new Set(m.active);
        for (const [k, g] of m.globals.entries()) {
          clients.push({
            g,
            token: (await tokens.mint(`${m.prefix}${g}`)).token,
            localAddress: addresses.length ? addresses[k % addresses.length] : undefined,
            sse: null,
            lastEventId: undefined,
            retryMs: m.defaultRetryMs,
            endedAt: NaN,
            firstAttemptAt: NaN,
            servedAt: NaN,
            resumed: false,
            attemptAt: NaN,
            connectedAt: NaN,
            connectMs: NaN,
            firstFrameMs: NaN,
            gaveUp: false,
            timer: null,
            ids: active.has(g) ? new Set() : null,
            maxId: 0,
          });
        }
        reply({ type: "prepared", ms: performance.now() - t0 });
      })();
      break;
    }
    case "open":
      // Until armed, a dropped stream comes back where it was.
      reconnectUrl = m.url;
      void open(m.url, m.inflight, m.since);
      break;
    case "arm":
      reconnectUrl = m.url;
      deadline = m.deadline;
      armed = true;
      reply({ type: "armed" });
      break;
    case "stats":
      reply({ type: "stats", stats: stats() });
      break;
    case "results":
      reply({
        type: "results",
        results: {
          endedAt: Float64Array.from(clients, (c) => c.endedAt),
          firstAttemptAt: Float64Array.from(clients, (c) => c.firstAttemptAt),
          servedAt: Float64Array.from(clients, (c) => c.servedAt),
          resumed: Uint8Array.from(clients, (c) => (c.resumed ? 1 : 0)),
          connectMs: Float64Array.from(clients, (c) => c.connectMs),
          firstFrameMs: Float64Array.from(clients, (c) => c.firstFrameMs),
          attempts,
          sheds,
          failures,
          failReasons,
          retryAfter: retryAfterSeen,
          retryUsed,
          reDrops,
          droppedEarly,
          succeeded: [...succeeded],
          jobEvents,
          duplicates,
          outOfOrder,
          samples,
        },
      });
      break;
  }
});
