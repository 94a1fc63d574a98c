import type { JetStreamManager } from "@nats-io/jetstream";
import { WEBHOOKS_STREAM } from "../../libs/contracts/mod.ts";
import { readWebhookDeadLetters, verifyWebhook, type StoredWebhookDeadLetter } from "../../libs/webhooks/mod.ts";
import { startWebhookReceiver, type ReceivedWebhook } from "../helpers/webhookReceiver.ts";
import type { Balancer, Ledger } from "./ledger.ts";

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

const TERMINAL = new Set(["job.succeeded", "job.failed", "job.canceled"]);

/**
 * Two consecutive attempts of one delivery this far apart: it was taken by a worker that died with
 * it (held or in flight), and came back only after the consumer's ack wait. Normal retries here
 * are WEBHOOK_TIMEOUT + a WEBHOOK_RETRY_BACKOFF step apart, well under a second or two.
 */
const STRANDED_GAP_MS = 10_000;

/** One delivery that a job's terminal event makes (its own webhook, default events: one per job). */
export interface ExpectedDelivery {
  webhookId: string;
  jobId: string;
  clientId: string;
  /** Sent to the receiver that always answers 500: must end in WEBHOOKS_DLQ. */
  dead: boolean;
}

export interface WebhookTotals {
  fault: string;
  /** Deliveries the jobs' terminal events make. */
  queued: number;
  /** Of them, answered 2xx by the receiver at least once. */
  delivered: number;
  /** Of them, kept in WEBHOOKS_DLQ. */
  deadLettered: number;
  /** Neither delivered nor dead-lettered: must be 0. */
  lost: number;
  /** Both delivered and dead-lettered: must be 0. */
  both: number;
  /** Requests the receivers got, every attempt of every delivery. */
  attempts: number;
  /** Deliveries answered 2xx more than once (allowed: at least once, under one webhook-id). */
  redelivered: number;
  /** Requests whose signature did not verify with their client's secret: must be 0. */
  unverified: number;
  /** Requests not of an expected delivery, or at the wrong receiver, or whose webhook-id is not their job's: must be 0. */
  stray: number;
  /** Deliveries attempted again only after a pause of STRANDED_GAP_MS or more: the killed worker's. */
  stranded: number;
}

/**
 * The webhook side of the fault suite: two real receivers on 127.0.0.1, `ok` (down until up():
 * it takes each request and never answers, so every attempt is in flight until WEBHOOK_TIMEOUT; then
 * 200) and `dead` (500, always), both checking every signature; and the bookkeeping that every
 * delivery queued ends delivered (a 2xx) or in WEBHOOKS_DLQ, never neither.
 */
export class WebhookLedger {
  readonly fault: string;
  /** Each client's signing secret, as POST /v1/clients/me/webhook-secret answered it. */
  readonly secrets = new Map<string, string>();
  /** Per webhook-id, how many times the `ok` receiver answered it 2xx. */
  readonly #answered2xx = new Map<string, number>();
  #up = false;
  ok!: Receiver;
  dead!: Receiver;

  constructor(fault: string) {
    this.fault = fault;
  }

  static async start(fault: string): Promise<WebhookLedger> {
    const l = new WebhookLedger(fault);
    const secrets = () => [...l.secrets.values()];
    l.ok = await startWebhookReceiver({
      secrets,
      answer: (r) => {
        if (!l.#up) return "hang";
        l.#answered2xx.set(r.id, (l.#answered2xx.get(r.id) ?? 0) + 1);
        return 200;
      },
    });
    l.dead = await startWebhookReceiver({ secrets, answer: () => 500 });
    return l;
  }

  /** From now on the `ok` receiver answers 200. */
  up(): void {
    this.#up = true;
  }

  /** Creates each client's signing secret (201 `{ secret }`), which every delivery must be signed with. */
  async addSecrets(api: Balancer, ledger: Ledger): Promise<void> {
    for (const c of ledger.clients) {
      const res = await fetch(`${api.pick()}/v1/clients/me/webhook-secret`, {
        method: "POST",
        headers: { authorization: `Bearer ${c.token}` },
        signal: AbortSignal.timeout(10_000),
      });
      const body = await res.text();
      if (res.status !== 201) throw new Error(`POST /v1/clients/me/webhook-secret: ${res.status} ${body}`);
      this.secrets.set(c.clientId, (JSON.parse(body) as { secret: string }).secret);
    }
  }

  get received(): ReceivedWebhook[] {
    return [...this.ok.received, ...this.dead.received];
  }

  /** The jobs whose delivery has been attempted at least once, at either receiver. */
  attemptedJobs(): Set<string> {
    return new Set(this.received.map((r) => (JSON.parse(r.body) as { jobId: string }).jobId));
  }

  /** The deliveries of the jobs' terminal events, each event's id (its RESULTS seq) read off its client's stream. */
  expected(ledger: Ledger, deadClients: Set<string>): Map<string, ExpectedDelivery> {
    const out = new Map<string, ExpectedDelivery>();
    for (const c of ledger.clients) {
      for (const e of c.sse.events) {
        if (!TERMINAL.has(e.event)) continue;
        const jobId = (JSON.parse(e.data) as { jobId: string }).jobId;
        if (!c.accepted.has(jobId)) continue;
        const webhookId = `msg_${jobId}_${e.id}_job`;
        out.set(webhookId, { webhookId, jobId, clientId: c.clientId, dead: deadClients.has(c.clientId) });
      }
    }
    return out;
  }

  /** The dead letters of these deliveries, per webhook-id (every one: a delivery dead-lettered twice shows as 2). */
  async deadLetters(
    jsm: JetStreamManager,
    expected: Map<string, ExpectedDelivery>,
  ): Promise<Map<string, StoredWebhookDeadLetter[]>> {
    const out = new Map<string, StoredWebhookDeadLetter[]>();
    for await (const l of readWebhookDeadLetters(jsm)) {
      if (!expected.has(l.delivery.webhookId)) continue;
      out.set(l.delivery.webhookId, [...(out.get(l.delivery.webhookId) ?? []), l]);
    }
    return out;
  }

  totals(expected: Map<string, ExpectedDelivery>, letters: Map<string, StoredWebhookDeadLetter[]>): WebhookTotals {
    const byJob = new Map([...expected.values()].map((d) => [d.jobId, d]));
    let stray = 0;
    let unverified = 0;
    const check = (r: ReceivedWebhook, dead: boolean) => {
      const body = JSON.parse(r.body) as { jobId: string; clientId: string; event: string };
      const d = byJob.get(body.jobId);
      if (!d || d.webhookId !== r.id || d.dead !== dead || r.event !== `job.${body.event}`) stray++;
      const secret = this.secrets.get(body.clientId);
      const headers = {
        "webhook-id": r.id,
        "webhook-timestamp": String(r.timestamp),
        "webhook-signature": r.signature,
      };
      // With its own client's secret only, and as at the moment it arrived.
      const ok =
        r.verified &&
        d?.clientId === body.clientId &&
        secret !== undefined &&
        verifyWebhook({ body: r.body, headers, secret, now: Math.floor(r.at / 1000) });
      if (!ok) unverified++;
    };
    for (const r of this.ok.received) check(r, false);
    for (const r of this.dead.received) check(r, true);

    let delivered = 0;
    let deadLettered = 0;
    let lost = 0;
    let both = 0;
    let redelivered = 0;
    let stranded = 0;
    for (const id of expected.keys()) {
      const ok = (this.#answered2xx.get(id) ?? 0) > 0;
      const dl = letters.has(id);
      if (ok) delivered++;
      if (dl) deadLettered++;
      if (ok && dl) both++;
      if (!ok && !dl) lost++;
      if ((this.#answered2xx.get(id) ?? 0) > 1) redelivered++;
      const at = this.received
        .filter((r) => r.id === id)
        .map((r) => r.at)
        .sort((a, b) => a - b);
      if (at.some((t, i) => i > 0 && t - at[i - 1]! >= STRANDED_GAP_MS)) stranded++;
    }
    return {
      fault: this.fault,
      queued: expected.size,
      delivered,
      deadLettered,
      lost,
      both,
      attempts: this.received.length,
      redelivered,
      unverified,
      stray,
      stranded,
    };
  }

  /** For a failing row: each delivery neither delivered nor dead-lettered, or both, with its attempts. */
  report(expected: Map<string, ExpectedDelivery>, letters: Map<string, StoredWebhookDeadLetter[]>): string {
    const t0 = Math.min(...this.received.map((r) => r.at));
    const lines: string[] = [];
    for (const d of expected.values()) {
      const ok = this.#answered2xx.has(d.webhookId);
      const dl = letters.has(d.webhookId);
      if (ok !== dl) continue;
      const at = this.received.filter((r) => r.id === d.webhookId).map((r) => r.at - t0);
      lines.push(
        `${d.webhookId} (${d.dead ? "dead" : "ok"} receiver): ${ok ? "delivered AND dead-lettered" : "lost"}; attempts at +ms ${at.join(",") || "none"}`,
      );
    }
    return lines.join("\n");
  }

  /** Waits (bounded) until every expected delivery is delivered or dead-lettered; the totals then (or at the deadline). */
  async settle(
    jsm: JetStreamManager,
    expected: Map<string, ExpectedDelivery>,
    timeoutMs: number,
  ): Promise<{ totals: WebhookTotals; letters: Map<string, StoredWebhookDeadLetter[]> }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const letters = await this.deadLetters(jsm, expected);
      const totals = this.totals(expected, letters);
      if (totals.lost === 0 || Date.now() > deadline) return { totals, letters };
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Deliveries of these clients still in WEBHOOKS (the work queue), waited for (bounded) to reach 0. */
  async drained(jsm: JetStreamManager, clientIds: string[], timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await jsm.streams.info(WEBHOOKS_STREAM, { subjects_filter: "webhooks.*" });
      const subjects = info.state.subjects ?? {};
      const left = clientIds.reduce((n, id) => n + (subjects[`webhooks.${id}`] ?? 0), 0);
      if (left === 0 || Date.now() > deadline) return left;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.ok?.close(), this.dead?.close()]);
  }
}

export function printWebhookLedger(rows: WebhookTotals[]): void {
  if (rows.length === 0) return;
  const header =
    "| fault | queued | delivered | dead-lettered | lost | both | attempts | delivered twice | unverified | stray | stranded by the kill |";
  const lines = rows.map(
    (r) =>
      `| ${r.fault} | ${r.queued} | ${r.delivered} | ${r.deadLettered} | ${r.lost} | ${r.both} | ${r.attempts} | ${r.redelivered} | ${r.unverified} | ${r.stray} | ${r.stranded} |`,
  );
  process.stdout.write(
    `\nwebhook ledger\n${header}\n|---|---|---|---|---|---|---|---|---|---|---|\n${lines.join("\n")}\n\n`,
  );
}
