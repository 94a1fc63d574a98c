import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { EmbeddedServer } from "../../libs/nats/mod.ts";
import { listDeadLetters } from "../../libs/queue/mod.ts";
import { readLastEvent } from "../../libs/results/mod.ts";
import { TEST_SECRET } from "../helpers/stack.ts";
import {
  type AppProcess,
  freePort,
  startApp,
  startCluster,
  startNatsServer,
  type AppKind,
  type ClusterNode,
} from "../../scripts/launcher/mod.ts";
import { Balancer, Ledger, printLedger, type LedgerTotals } from "./ledger.ts";
import { printWebhookLedger, WebhookLedger, type WebhookTotals } from "./webhookLedger.ts";

// herald's promise under faults, with real processes: nats-server(s), api, workers, notifiers.
// Each scenario runs a bounded load of `sleep` jobs from several clients (each on its own SSE
// stream), injects one fault while jobs are running, and checks the ledger.

const JOBS = 60;
const CLIENTS = 8;
const SUBMIT_INTERVAL_MS = 25;
const sleepJob = () => ({ type: "sleep", payload: { ms: 400, steps: 4 } });
const rows: LedgerTotals[] = [];
const webhookRows: WebhookTotals[] = [];
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const baseEnv = {
  TOKEN_SECRET: TEST_SECRET,
  JOB_ACK_WAIT: "2s",
  JOB_MAX_DELIVER: "3",
  JOB_RETRY_BACKOFF: "200ms",
  WORKER_SHUTDOWN_GRACE: "300ms",
  WORKER_CONCURRENCY: "8",
  WORKER_JOBS: "test/faults/faultJobs.ts",
  SSE_RETRY_MS: "200",
  PROGRESS_INTERVAL_MS: "0",
  // All load comes from 127.0.0.1; the limits have tests of their own.
  RATE_LIMIT_CLIENTS: "0",
  RATE_LIMIT_JOBS: "0",
};

// Webhooks to the receivers on 127.0.0.1 (only the webhooks row asks for any): an attempt times out
// in 500 ms, and WEBHOOK_BACKOFF_STEPS retries 300 ms apart: far more than a delivery makes while
// its receiver is down in that row, so only the ones sent to a receiver that always fails dead-letter.
const WEBHOOK_BACKOFF_STEPS = 16;
const webhookEnv = {
  WEBHOOK_ALLOW_HTTP: "true",
  WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
  WEBHOOK_TIMEOUT: "500ms",
  WEBHOOK_RETRY_BACKOFF: Array(WEBHOOK_BACKOFF_STEPS).fill("300ms").join(","),
};

/** A herald deployment of real processes, with balancers in front of the apis and notifiers. */
class Deployment {
  readonly env: Record<string, string>;
  readonly apps: AppProcess[] = [];
  readonly api = new Balancer();
  readonly notifiers = new Balancer();

  constructor(env: Record<string, string>) {
    this.env = env;
  }

  of(kind: AppKind): AppProcess[] {
    return this.apps.filter((a) => a.kind === kind && a.running);
  }

  async start(kind: AppKind): Promise<AppProcess> {
    const app = await startApp(kind, this.env);
    this.apps.push(app);
    if (kind === "api") this.api.add(app.url!);
    if (kind === "notifier") this.notifiers.add(app.url!);
    return app;
  }

  async startAll(counts: Record<AppKind, number>): Promise<void> {
    const kinds = (Object.keys(counts) as AppKind[]).flatMap((k) => Array(counts[k]).fill(k) as AppKind[]);
    await Promise.all(kinds.map((k) => this.start(k)));
  }

  /** Kills an instance; its balancer stops sending to it (a health check would). */
  kill(app: AppProcess, signal: NodeJS.Signals): void {
    if (app.kind === "api") this.api.markDead(app.url);
    if (app.kind === "notifier") this.notifiers.markDead(app.url);
    app.kill(signal);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.apps.map((a) => (a.running ? a.stop(10_000) : undefined)));
  }
}

/** Runs the load (of `job`s: `sleep` unless told), calls `inject` while it runs, and returns the settled ledger. */
async function underLoad(
  d: Deployment,
  fault: string,
  inject: () => Promise<void>,
  job: Parameters<Ledger["submit"]>[3] = sleepJob,
): Promise<Ledger> {
  const servers = d.env.NATS_URL!.split(",");
  const ledger = new Ledger(fault);
  await ledger.addClients(CLIENTS, d.api, d.notifiers);
  await Promise.all([ledger.submit(d.api, JOBS, SUBMIT_INTERVAL_MS, job), inject()]);
  await ledger.settle();
  const totals = ledger.totals();
  rows.push(totals);
  ledger.close();
  if (totals.lost > 0) process.stdout.write(`${fault}: jobs not seen to end:\n${await diagnose(ledger, servers)}\n`);
  return ledger;
}

/** For a failing ledger: what RESULTS holds for each job its client did not see end. */
async function diagnose(ledger: Ledger, servers: string[]): Promise<string> {
  const nc = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  const lines: string[] = [];
  for (const c of ledger.clients) {
    const seen = new Set(
      c.sse.events.filter((e) => /succeeded|failed|canceled/.test(e.event)).map((e) => JSON.parse(e.data).jobId),
    );
    for (const jobId of c.accepted) {
      if (seen.has(jobId)) continue;
      const last = await readLastEvent(jsm, c.clientId, jobId);
      lines.push(
        `${jobId}: stored last ${last?.event.event} #${last?.seq} (attempt ${last?.event.attempt}); client saw up to #${c.sse.events.at(-1)?.id}, opens ${c.sse.opens}`,
      );
    }
  }
  const jobs = await jsm.streams.info("JOBS");
  const workers = await jsm.consumers.info("JOBS", "workers");
  lines.push(`JOBS: ${JSON.stringify(jobs.state)} leader ${jobs.cluster?.leader}`);
  lines.push(
    `workers: pending ${workers.num_pending} ack_pending ${workers.num_ack_pending} redelivered ${workers.num_redelivered} waiting ${workers.num_waiting} delivered ${JSON.stringify(workers.delivered)} ack_floor ${JSON.stringify(workers.ack_floor)} leader ${workers.cluster?.leader}`,
  );
  const scheduled = await jsm.streams.info("SCHEDULED");
  const scheduler = await jsm.consumers.info("SCHEDULED", "scheduler");
  lines.push(
    `SCHEDULED: ${JSON.stringify(scheduled.state)}; scheduler: pending ${scheduler.num_pending} ack_pending ${scheduler.num_ack_pending} redelivered ${scheduler.num_redelivered}`,
  );
  await nc.close();
  return lines.join("\n");
}

function expectNothingLost(ledger: Ledger, jobs = JOBS): void {
  const t = ledger.totals();
  expect(t.accepted).toBe(jobs);
  expect(t.lost, "jobs without a terminal event at their client").toBe(0);
  expect(t.duplicated, "events or terminal events seen twice").toBe(0);
  expect(t.outOfOrder, "events out of order").toBe(0);
  expect(t.hung, "submits that got no answer within 30 s").toBe(0);
  expect(t.terminal).toBe(jobs);
}

/** How many jobs ran more than once (a second `started`): proof that the fault hit running jobs. */
function rerunJobs(ledger: Ledger): number {
  let n = 0;
  for (const c of ledger.clients) {
    const starts = new Map<string, number>();
    for (const e of c.sse.events) {
      if (e.event !== "job.started") continue;
      const jobId = (JSON.parse(e.data) as { jobId: string }).jobId;
      starts.set(jobId, (starts.get(jobId) ?? 0) + 1);
    }
    n += [...starts.values()].filter((s) => s > 1).length;
  }
  return n;
}

afterAll(() => {
  printLedger(rows);
  printWebhookLedger(webhookRows);
});

describe.sequential("one nats-server", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "herald-faults-"));
  let nats: EmbeddedServer;
  let natsPort: number;
  let d: Deployment;

  const startNats = async () => {
    nats = await startNatsServer({ storeDir: path.join(dir, "nats"), port: natsPort });
  };

  beforeAll(async () => {
    natsPort = await freePort();
    await startNats();
    d = new Deployment({ ...baseEnv, ...webhookEnv, NATS_URL: nats.url });
    await d.startAll({ api: 2, worker: 2, notifier: 2 });
  }, 120_000);

  afterAll(async () => {
    await d?.stopAll();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a worker killed (SIGKILL) mid-job: its jobs are redelivered after the ack wait and end once", async () => {
    const victim = d.of("worker")[0]!;
    const ledger = await underLoad(d, "worker SIGKILL", async () => {
      await pause(800);
      d.kill(victim, "SIGKILL");
      await pause(1_000);
      await d.start("worker");
    });
    expectNothingLost(ledger);
    expect(rerunJobs(ledger), "jobs that the dead worker was running, run again").toBeGreaterThan(0);
  }, 180_000);

  it("a notifier killed (SIGKILL) under its clients: they resume on the other with nothing missed", async () => {
    const victim = d.of("notifier")[0]!;
    let resumed = 0;
    const ledger = await underLoad(d, "notifier SIGKILL", async () => {
      await pause(800);
      d.kill(victim, "SIGKILL");
      await pause(1_000);
      await d.start("notifier");
    });
    for (const c of ledger.clients) resumed += c.sse.opens > 1 ? 1 : 0;
    expectNothingLost(ledger);
    expect(resumed, "clients that had to reconnect").toBeGreaterThan(0);
  }, 180_000);

  it("graceful restarts (SIGTERM) of an api, a worker and a notifier under load: each exits 0, nothing lost", async () => {
    const [api, worker, notifier] = [d.of("api")[0]!, d.of("worker")[0]!, d.of("notifier")[0]!];
    const exits: unknown[] = [];
    const lastLines: string[] = [];
    const ledger = await underLoad(d, "graceful restarts", async () => {
      await pause(600);
      for (const app of [api, worker, notifier]) {
        d.kill(app, "SIGTERM");
        const exit = await app.exited;
        exits.push(exit);
        if (exit.code !== 0) {
          const lines = app
            .logs()
            .trim()
            .split("\n")
            .filter((l) => !/"msg":"(incoming request|request completed)"/.test(l));
          lastLines.push(`${app.kind}:`, ...lines.slice(-20));
        }
        await d.start(app.kind);
      }
    });
    expect(exits, lastLines.join("\n")).toEqual(Array(3).fill({ code: 0, signal: null }));
    expect(worker.logs()).toMatch(/grace period over; handing running jobs back|"msg":"stopped"/);
    expectNothingLost(ledger);
  }, 180_000);

  it("nats-server restarted under load: 503s come quickly while it is down, apps reconnect, every job ends once", async () => {
    const ledger = await underLoad(d, "nats-server restart", async () => {
      await pause(600);
      await nats.stop();
      await pause(2_000);
      await startNats();
    });
    expectNothingLost(ledger);
    const t = ledger.totals();
    expect(t.unavailable, "submits answered 503 during the outage").toBeGreaterThan(0);
    // The notifiers refused event streams with 503 + Retry-After while NATS was down (2 s, against
    // a 200 ms retry:), and every refused client came back and caught up (nothing lost above).
    expect(t.refused, "event streams answered 503 during the outage").toBeGreaterThan(0);
    // Not a performance figure: no submit hung (no answer in 30 s), and the 503s during the outage
    // came at once (only requests caught in flight wait for their publish timeout).
    expect(t.hung).toBe(0);
    expect(t.median503Ms).toBeLessThan(1_000);
    for (const app of d.apps.filter((a) => a.running)) expect(app.logs()).toContain("NATS reconnected");
  }, 180_000);

  it("scheduled jobs across a worker SIGKILL and a nats-server restart: each ends once, none starts before its runAt", async () => {
    // Due 1 to 3 s after submission, spread: some are due while a worker is dead, some while
    // nats-server is down, some after; the schedulers' parked naks come back from the store
    // (in whole seconds, so up to 1 s early) and must be parked again, not run.
    const scheduledJob = (i: number) => ({
      ...sleepJob(),
      payload: { ms: 200, steps: 2 },
      delay: 1_000 + (i % 21) * 100,
    });
    const victim = d.of("worker")[0]!;
    const ledger = await underLoad(
      d,
      "scheduled: worker SIGKILL + nats-server restart",
      async () => {
        await pause(800);
        d.kill(victim, "SIGKILL");
        await d.start("worker");
        await pause(700);
        await nats.stop();
        await pause(1_000);
        await startNats();
      },
      scheduledJob,
    );
    expectNothingLost(ledger);
    let early = 0;
    let scheduled = 0;
    for (const c of ledger.clients) {
      const runAt = new Map<string, number>();
      for (const e of c.sse.events) {
        const event = JSON.parse(e.data) as { jobId: string; event: string; at: string; runAt?: string };
        if (event.event === "queued" && event.runAt) {
          runAt.set(event.jobId, Date.parse(event.runAt));
          scheduled++;
        }
        // The apps share this machine's clock, in whole ms: no tolerance (apps/worker/scheduler.test.ts).
        if (event.event === "started" && Date.parse(event.at) < runAt.get(event.jobId)!) early++;
      }
    }
    expect(scheduled, "jobs submitted with a delay").toBe(JOBS);
    expect(early, "attempts started before their job's runAt").toBe(0);
  }, 180_000);

  it("a job that crashes its worker every time ends `failed` after JOB_MAX_DELIVER attempts, kept in JOBS_DLQ", async () => {
    const ledger = new Ledger("crash loop");
    await ledger.addClients(1, d.api, d.notifiers);
    const c = ledger.clients[0]!;
    const res = await fetch(`${d.api.pick()}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${c.token}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "crash", payload: {} }),
    });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    c.accepted.add(jobId);
    // A supervisor (systemd, Kubernetes) restarts crashed workers; so does this loop.
    const downBefore = new Set(d.apps.filter((a) => !a.running));
    const handled = new Set(downBefore);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !c.sse.events.some((e) => e.event === "job.failed")) {
      for (const w of d.apps.filter((a) => a.kind === "worker" && !a.running && !handled.has(a))) {
        handled.add(w);
        await d.start("worker");
      }
      await pause(100);
    }
    await ledger.settle(5_000);
    // Counted at the end, not by the restarts: the third crash can come while a restart is still
    // starting, and the job end (on a worker already up) before the loop looks again.
    const crashes = d.apps.filter((a) => a.kind === "worker" && !a.running && !downBefore.has(a)).length;
    rows.push(ledger.totals());
    ledger.close();
    const events = c.sse.events.map(
      (e) => JSON.parse(e.data) as { event: string; attempt: number; error: { code: string } | null },
    );
    expect(events.map((e) => e.event)).toEqual(["queued", "started", "started", "started", "failed"]);
    expect(events.at(-1)).toMatchObject({ attempt: 3, error: { code: "max_attempts" } });
    expect(crashes).toBe(3);
    const nc = await connect({ servers: nats.url });
    const letters = await listDeadLetters(await jetstreamManager(nc));
    await nc.close();
    expect(letters.find((l) => l.job.jobId === jobId)).toMatchObject({ attempts: 3, error: { code: "max_attempts" } });
  }, 120_000);

  it("webhooks: a receiver down while a worker is SIGKILLed mid-delivery gets every delivery once it is up; deliveries queued = delivered + dead-lettered", async () => {
    // 30 jobs post their terminal event to `ok`, which is down (each attempt hangs until
    // WEBHOOK_TIMEOUT) while a worker dies holding some; then `ok` answers 200. One client's 6 go to
    // `dead` (500, always): they must end in WEBHOOKS_DLQ after 1 + WEBHOOK_BACKOFF_STEPS attempts.
    // Jobs go round-robin over the clients (Ledger.submit): job i is client i % clients's.
    const clients = 6;
    const jobs = 36;
    const hooks = await WebhookLedger.start("webhooks: receiver down + worker SIGKILL");
    const ledger = new Ledger(hooks.fault);
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      await ledger.addClients(clients, d.api, d.notifiers);
      await hooks.addSecrets(d.api, ledger);
      const deadClients = new Set([ledger.clients[clients - 1]!.clientId]);
      await ledger.submit(d.api, jobs, SUBMIT_INTERVAL_MS, (i) => ({
        type: "echo",
        payload: { i },
        webhook: { url: `${i % clients === clients - 1 ? hooks.dead.url : hooks.ok.url}/hook` },
      }));
      const accepted = ledger.clients.flatMap((c) => [...c.accepted]);
      // Every delivery is failing (attempted at least once, and retried) before the kill.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && hooks.attemptedJobs().size < accepted.length) await pause(50);
      expect(hooks.attemptedJobs().size, "jobs whose delivery was attempted before the kill").toBe(jobs);

      const victim = d.of("worker")[0]!;
      d.kill(victim, "SIGKILL");
      expect(await victim.exited).toEqual({ code: null, signal: "SIGKILL" });
      // Up at once (not after the replacement below is ready): the deliveries still failing must
      // not run out of retries while a worker starts on a busy machine.
      hooks.up();
      await d.start("worker");

      await ledger.settle(30_000);
      rows.push(ledger.totals());
      expectNothingLost(ledger, jobs);
      const expected = hooks.expected(ledger, deadClients);
      expect(expected.size, "deliveries queued: one per job (its terminal event)").toBe(jobs);
      // The killed worker's deliveries come back after the webhook-senders ack wait (15 s).
      const { totals, letters } = await hooks.settle(jsm, expected, 60_000);
      webhookRows.push(totals);
      const left = await hooks.drained(
        jsm,
        ledger.clients.map((c) => c.clientId),
        10_000,
      );
      expect(totals, hooks.report(expected, letters)).toMatchObject({
        queued: jobs,
        lost: 0,
        both: 0,
        delivered: jobs - jobs / clients,
        deadLettered: jobs / clients,
        unverified: 0,
        stray: 0,
      });
      expect(totals.stranded, "deliveries the killed worker held, sent again").toBeGreaterThan(0);
      expect(left, "deliveries of this row still in WEBHOOKS").toBe(0);
      for (const [id, l] of letters) {
        expect(l, id).toEqual([
          expect.objectContaining({
            attempts: WEBHOOK_BACKOFF_STEPS + 1,
            error: expect.objectContaining({ code: "webhook_failed", status: 500 }),
          }),
        ]);
      }
    } finally {
      ledger.close();
      await nc.close();
      await hooks.close();
    }
  }, 120_000);
});

describe.sequential("a 3-node cluster", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "herald-cluster-"));
  let nodes: ClusterNode[];
  let d: Deployment;

  beforeAll(async () => {
    nodes = await startCluster(dir);
    d = new Deployment({ ...baseEnv, NATS_URL: nodes.map((n) => n.url).join(","), NATS_REPLICAS: "3" });
    await d.startAll({ api: 1, worker: 2, notifier: 2 });
  }, 120_000);

  afterAll(async () => {
    await d?.stopAll();
    await Promise.all((nodes ?? []).map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("streams are R3, and losing the RESULTS leader node under load loses nothing", async () => {
    const nc = await connect({ servers: nodes.map((n) => n.url) });
    const jsm = await jetstreamManager(nc);
    for (const name of ["JOBS", "RESULTS", "JOBS_DLQ", "SCHEDULED", "JOBINDEX", "KV_idempotency"]) {
      expect((await jsm.streams.info(name)).config.num_replicas, name).toBe(3);
    }
    expect((await jsm.consumers.info("JOBS", "workers")).cluster?.replicas?.length).toBe(2);
    expect((await jsm.consumers.info("SCHEDULED", "scheduler")).cluster?.replicas?.length).toBe(2);
    const leader = (await jsm.streams.info("RESULTS")).cluster!.leader!;
    await nc.close();
    const victim = nodes.find((n) => `herald-n${n.index}` === leader)!;
    const ledger = await underLoad(d, "cluster: node lost", async () => {
      await pause(800);
      victim.kill();
      await pause(3_000);
      await victim.start();
    });
    expectNothingLost(ledger);
  }, 180_000);
});
