import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack, type TestNotifier } from "./helpers/stack.ts";
import { SseClient } from "./helpers/sse.ts";

// What operators look at: /healthz, /readyz, /metrics and the OpenAPI document at /docs.
let stack: Stack;
let notifier: TestNotifier;
beforeAll(async () => {
  stack = await startStack({ workers: 1 });
  notifier = await stack.addNotifier();
});
afterAll(async () => stack?.close());

/**
 * The value of one sample in Prometheus text: `sample(text, 'herald_jobs_submitted_total{type="echo"')`
 * matches the metric name and every label given, whatever the labels' order and any others.
 */
function sample(text: string, selector: string): number {
  const [name, labelPart] = selector.split("{") as [string, string | undefined];
  const wanted = labelPart ? labelPart.replace(/}$/, "").split(",").filter(Boolean) : [];
  const line = text.split("\n").find((l) => {
    if (!(l.startsWith(`${name}{`) || l.startsWith(`${name} `))) return false;
    const labels = l.slice(name.length).split(" ")[0]!;
    return wanted.every((w) => labels.includes(w));
  });
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("health", () => {
  it("/healthz and /readyz answer on the api and the notifier", async () => {
    // The notifier also says whether its live feed knows where RESULTS ends.
    for (const [base, own] of [
      [stack.url, {}],
      [notifier.url, { liveFeed: true }],
    ] as const) {
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready", checks: { nats: true, streams: true, ...own } });
    }
  });
});

describe("metrics", () => {
  it("counts jobs by type and outcome, run time and latency, SSE connections and replays, and process metrics", async () => {
    const c = await stack.client();
    const before = await (await fetch(`${stack.url}/metrics`)).text();
    const ok = await stack.submit(c.auth, "echo", 1);
    const bad = await stack.submit(c.auth, "fail", {});
    const long = await stack.submit(c.auth, "sleep", { ms: 30_000 });
    await stack.waitForTerminal(c.clientId, ok.jobId);
    await stack.waitForTerminal(c.clientId, bad.jobId);
    expect((await stack.http(`/v1/jobs/${long.jobId}`, { method: "DELETE", headers: c.auth })).status).toBe(202);
    const res = await fetch(`${stack.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const after = await res.text();
    const delta = (p: string) => sample(after, p) - sample(before, p);
    expect(delta('herald_jobs_submitted_total{type="echo"')).toBe(1);
    expect(delta('herald_jobs_submitted_total{type="fail"')).toBe(1);
    expect(delta('herald_jobs_finished_total{type="echo",outcome="succeeded"')).toBe(1);
    expect(delta('herald_jobs_finished_total{type="fail",outcome="failed"')).toBe(1);
    expect(delta('herald_jobs_finished_total{type="sleep",outcome="canceled"')).toBe(1);
    expect(delta('herald_job_run_seconds_count{type="echo"')).toBe(1);
    expect(delta('herald_job_latency_seconds_count{type="echo"')).toBe(1);
    expect(sample(after, 'herald_process_resident_memory_bytes{app="test"')).toBeGreaterThan(10_000_000);
    expect(after).toMatch(/^herald_nats_reconnects_total\{app="test"\} 0$/m);

    // The notifier: open streams, and events replayed to a resuming client.
    const s = new SseClient({
      token: c.token,
      baseUrl: () => notifier.url,
      path: "/v1/events",
      lastEventId: "earliest",
    });
    await s.waitFor((x) => x.events.length >= 6);
    const n = await (await fetch(`${notifier.url}/metrics`)).text();
    expect(sample(n, "herald_sse_connections")).toBe(1);
    expect(sample(n, "herald_sse_replayed_events_total")).toBe(0); // counted when the stream ends
    s.close();
    await expect.poll(() => notifier.hub.size, { timeout: 5_000 }).toBe(0);
    const n2 = await (await fetch(`${notifier.url}/metrics`)).text();
    expect(sample(n2, "herald_sse_connections")).toBe(0);
    expect(sample(n2, "herald_sse_replayed_events_total")).toBeGreaterThanOrEqual(6);
  });
});

describe("API documentation", () => {
  it("serves the OpenAPI document generated from the route schemas, and a page to read it at /docs", async () => {
    const doc = (await (await fetch(`${stack.url}/docs/json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>>;
    };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/clients",
        "/v1/jobs",
        "/v1/jobs/{id}",
        "/v1/job-types",
        "/healthz",
        "/readyz",
        "/metrics",
      ]),
    );
    expect(Object.keys(doc.paths["/v1/jobs"]!.post!.responses)).toEqual(
      expect.arrayContaining(["202", "400", "401", "413", "429", "503"]),
    );
    expect(doc.paths["/v1/jobs/{id}"]!.delete!.responses).toHaveProperty("409");
    const list = doc.paths["/v1/jobs"]!.get! as unknown as { parameters: { name: string; in: string }[] } & {
      responses: Record<string, unknown>;
    };
    expect(list.parameters.filter((p) => p.in === "query").map((p) => p.name)).toEqual(
      expect.arrayContaining(["status", "type", "limit", "cursor"]),
    );
    expect(Object.keys(list.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "503"]));
    expect(JSON.stringify(list.responses["200"])).toContain("nextCursor");
    const notifierDoc = (await (await fetch(`${notifier.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(notifierDoc.paths)).toEqual(expect.arrayContaining(["/v1/events", "/v1/jobs/{id}/events"]));
    const page = await fetch(`${stack.url}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("swagger");
  });
});

describe("readiness without NATS", () => {
  it("/readyz turns 503 when NATS goes away, while /healthz stays 200", async () => {
    const own = await startStack();
    try {
      await own.server.stop();
      await expect.poll(async () => (await fetch(`${own.url}/readyz`)).status, { timeout: 10_000 }).toBe(503);
      expect(await (await fetch(`${own.url}/readyz`)).json()).toMatchObject({
        status: "not ready",
        checks: { nats: false },
      });
      expect((await fetch(`${own.url}/healthz`)).status).toBe(200);
    } finally {
      await own.close().catch(() => undefined);
    }
  });
});
