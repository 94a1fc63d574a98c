/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { startStack, type Stack, type TestNotifier } from "./helpers/stack.ts";
import { startProxy } from "./helpers/proxy.ts";
import { launchBrowser } from "./helpers/browser.ts";
import { loadJobTypes } from "../libs/jobs/mod.ts";
import { startWebhookReceiver } from "./helpers/webhookReceiver.ts";

// The web page in real headless Chromium, served by the API, with the notifiers behind the same
// origin through a small reverse proxy (as nginx would be).
let stack: Stack;
let notifiers: TestNotifier[];
let current = 0;
let proxy: Awaited<ReturnType<typeof startProxy>>;
let browser: Browser;

beforeAll(async () => {
  stack = await startStack({
    workers: 1,
    web: true,
    env: {
      PROGRESS_INTERVAL_MS: "0",
      SSE_RETRY_MS: "300",
      // A stopped notifier ends its streams at once. Spread over the default 10 s, a stream still
      // registered from an earlier test's closed page makes two slices, and this page's stream
      // ends 5 s in: past the reconnect test's 5 s wait (it failed so once, in a full run).
      SSE_DRAIN_WINDOW: "0s",
      WEBHOOK_ALLOW_HTTP: "true",
      WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
    },
    // wordcount has a concurrency cap, which the form shows.
    jobTypes: await loadJobTypes("examples/custom-jobs.ts"),
  });
  notifiers = [await stack.addNotifier(), await stack.addNotifier()];
  proxy = await startProxy(stack.url, () => notifiers[current]!.url);
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await stack?.close();
});

/**
 * Installed in the page before its scripts run: remembers every value a card writes to
 * data-last-event-id and data-progress-step (a card keeps only the latest), so that a test can
 * see each event the card applied, in order. `window.written(jobId, name)` answers them.
 */
function recordCardWrites(): void {
  const names = ["data-last-event-id", "data-progress-step"];
  // Each record holds the value before the write: a write's value is the next record's old value,
  // and the last write's is the attribute's value now.
  const oldValues = new Map<Element, Record<string, (string | null)[]>>();
  const take = (records: MutationRecord[]) => {
    for (const r of records) {
      const byName = oldValues.get(r.target as Element) ?? {};
      oldValues.set(r.target as Element, byName);
      (byName[r.attributeName!] ??= []).push(r.oldValue);
    }
  };
  const observer = new MutationObserver(take);
  observer.observe(document, { subtree: true, attributes: true, attributeFilter: names, attributeOldValue: true });
  (window as unknown as { written: (jobId: string, name: string) => string[] }).written = (jobId, name) => {
    take(observer.takeRecords());
    const card = document.querySelector(`.job[data-job-id="${jobId}"]`);
    const olds = (card && oldValues.get(card)?.[`data-${name}`]) ?? [];
    return olds.length === 0 ? [] : [...olds.slice(1), card!.getAttribute(`data-${name}`)].map(String);
  };
}

async function openPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  await page.addInitScript(recordCardWrites);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 401/.test(m.text())) errors.push(m.text());
  });
  (page as Page & { errors: string[] }).errors = errors;
  await page.goto(`${proxy.url}/`);
  await page.waitForSelector("#connection[data-state=live]");
  return page;
}

async function submit(page: Page, type: string, payload: unknown): Promise<string> {
  const before = await page.$$eval(".job", (els) => els.map((e) => (e as HTMLElement).dataset.jobId!));
  await page.selectOption("#job-type", type);
  await page.fill("#job-payload", JSON.stringify(payload));
  await page.click("#submit-form button[type=submit]");
  const handle = await page.waitForFunction(
    (known) =>
      [...document.querySelectorAll<HTMLElement>(".job")]
        .map((e) => e.dataset.jobId!)
        .find((id) => !known.includes(id)),
    before,
  );
  return (await handle.jsonValue()) as string;
}

const card = (page: Page, jobId: string) => page.locator(`.job[data-job-id="${jobId}"]`);
const attr = (page: Page, jobId: string, name: string) => card(page, jobId).getAttribute(`data-${name}`);
/** Every value the card wrote to data-<name>, in order (see recordCardWrites). */
const written = (page: Page, jobId: string, name: string) =>
  page.evaluate(
    ([id, n]) => (window as unknown as { written: (jobId: string, name: string) => string[] }).written(id!, n!),
    [jobId, name],
  );
/** The progress steps the card applied, in order, as RESULTS stores them (storedProgress). */
const progressSteps = async (page: Page, jobId: string) => (await written(page, jobId, "progress-step")).join(",");

/** The progress percentages RESULTS stored for a job, as the page shows them. */
async function storedProgress(clientId: string, jobId: string): Promise<string> {
  const events = await stack.events(clientId, jobId);
  return events
    .filter((e) => e.event.event === "progress")
    .map((e) => e.event.progress!.pct)
    .join(",");
}

const clientIdOf = async (page: Page) => (await page.textContent("#identity"))!.replace("client ", "");

describe("web page", () => {
  it("submits a sleep job: the progress bar moves step by step, then the result appears", async () => {
    const page = await openPage();
    const jobId = await submit(page, "sleep", { ms: 1200, steps: 4 });
    await expect.poll(() => attr(page, jobId, "status"), { timeout: 5_000 }).toBe("running");
    await expect.poll(async () => Number(await attr(page, jobId, "progress")), { timeout: 5_000 }).toBeGreaterThan(0);
    await expect.poll(() => attr(page, jobId, "status"), { timeout: 10_000 }).toBe("succeeded");
    expect(await progressSteps(page, jobId)).toBe("25,50,75,100");
    expect(await card(page, jobId).locator(".job-result").textContent()).toContain('"sleptMs": 1200');
    expect(await card(page, jobId).locator("progress").getAttribute("value")).toBe("100");
    expect(await card(page, jobId).locator(".job-cancel").count()).toBe(0);
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.close();
  });

  it("shows reconnecting, then resumed, when its notifier goes away mid-job; the card ends right, no step missed or repeated", async () => {
    const page = await openPage();
    const jobId = await submit(page, "sleep", { ms: 2400, steps: 8 });
    await expect.poll(() => attr(page, jobId, "status"), { timeout: 5_000 }).toBe("running");
    const before = current;
    current = 1 - current;
    await notifiers[before]!.stop(); // the page's stream ends; the proxy now leads to the other one
    await page.waitForSelector("#connection[data-state=reconnecting]", { timeout: 5_000 });
    notifiers[before] = await stack.addNotifier();
    await page.waitForSelector("#connection[data-state=resumed]", { timeout: 10_000 });
    await expect.poll(() => attr(page, jobId, "status"), { timeout: 15_000 }).toBe("succeeded");
    const clientId = await clientIdOf(page);
    expect(await progressSteps(page, jobId)).toBe(await storedProgress(clientId, jobId));
    expect(await progressSteps(page, jobId)).toBe("12.5,25,37.5,50,62.5,75,87.5,100");
    const ids = (await written(page, jobId, "last-event-id")).map(Number);
    expect(ids).toEqual((await stack.events(clientId, jobId)).map((e) => e.seq));
    expect(await page.textContent("#connection")).toMatch(/resumed/);
    await page.close();
  });

  it("restores the client's jobs after a reload, and the running one completes", async () => {
    const page = await openPage();
    const done = await submit(page, "echo", { kept: true });
    await expect.poll(() => attr(page, done, "status"), { timeout: 5_000 }).toBe("succeeded");
    const running = await submit(page, "sleep", { ms: 1500, steps: 3 });
    await expect.poll(() => attr(page, running, "status"), { timeout: 5_000 }).toBe("running");
    await page.reload();
    await page.waitForSelector("#connection[data-state=live]");
    await expect.poll(() => attr(page, done, "status"), { timeout: 5_000 }).toBe("succeeded");
    await expect.poll(() => attr(page, running, "status"), { timeout: 10_000 }).toBe("succeeded");
    // Restored from the list at the step it had reached, then every later step from the stream.
    const steps = await progressSteps(page, running);
    expect(steps).toMatch(/(^|,)100$/);
    expect("33.33,66.67,100".endsWith(steps)).toBe(true);
    await page.close();
  });

  it("restores its cards from the list after a reload (not by replaying every event), then misses no later event", async () => {
    const page = await openPage();
    const clientId = await clientIdOf(page);
    const done = await submit(page, "echo", { restored: true });
    await expect.poll(() => attr(page, done, "status"), { timeout: 5_000 }).toBe("succeeded");
    const canceled = await submit(page, "sleep", { ms: 30_000, steps: 30 });
    await expect.poll(() => attr(page, canceled, "status"), { timeout: 5_000 }).toBe("running");
    await card(page, canceled).locator(".job-cancel").click();
    await expect.poll(() => attr(page, canceled, "status"), { timeout: 5_000 }).toBe("canceled");
    const running = await submit(page, "sleep", { ms: 2_400, steps: 8 });
    await expect.poll(() => attr(page, running, "status"), { timeout: 5_000 }).toBe("running");

    const streams: string[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/v1/events") streams.push(r.url());
    });
    await page.reload();
    await page.waitForSelector("#connection[data-state=live]");
    // The cards come from GET /v1/jobs, newest first; the stream resumes from the list's eventId.
    const shown = await page.$$eval(".job", (els) => els.map((e) => (e as HTMLElement).dataset.jobId!));
    expect(shown.slice(0, 3)).toEqual([running, canceled, done]);
    expect(streams.length).toBeGreaterThan(0);
    expect(new URL(streams[0]!).searchParams.get("lastEventId")).toMatch(/^\d+$/);
    expect(await attr(page, done, "status")).toBe("succeeded");
    expect(await card(page, done).locator(".job-result").textContent()).toContain('"restored": true');
    expect(await attr(page, canceled, "status")).toBe("canceled");
    expect(await card(page, canceled).locator(".job-cancel").count()).toBe(0);
    expect(await written(page, done, "last-event-id")).toHaveLength(1); // restored, nothing replayed

    await expect.poll(() => attr(page, running, "status"), { timeout: 10_000 }).toBe("succeeded");
    // The running card: the state it was restored from, then every event stored after it, in
    // order, none missed or repeated.
    const ids = (await written(page, running, "last-event-id")).map(Number);
    const stored = (await stack.events(clientId, running)).map((e) => e.seq);
    expect(stored).toContain(ids[0]);
    expect(ids).toEqual(stored.slice(stored.indexOf(ids[0]!)));
    expect((await storedProgress(clientId, running)).endsWith(await progressSteps(page, running))).toBe(true);
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.close();
  });

  it("keeps a card's data attributes short, however many events its job sends", async () => {
    const page = await openPage();
    const steps = 300;
    const jobId = await submit(page, "sleep", { ms: 3_000, steps });
    await expect.poll(() => attr(page, jobId, "status"), { timeout: 15_000 }).toBe("succeeded");
    // The card once kept every event id and every step in attributes: ~1.5 KB here, and without
    // bound for a longer job, on a page that stays open.
    const attributes = await card(page, jobId).evaluate((el) => Object.entries((el as HTMLElement).dataset));
    for (const [name, value] of attributes) expect(String(value).length, `data-${name}`).toBeLessThanOrEqual(32);
    expect(await attr(page, jobId, "progress-step")).toBe("100");
    expect(Number(await attr(page, jobId, "last-event-id"))).toBe(
      (await stack.events(await clientIdOf(page), jobId)).at(-1)!.seq,
    );
    expect(await written(page, jobId, "progress-step")).toHaveLength(steps);
    await page.close();
  });

  it("says under a capped type's name how many of its jobs run at once, and runs one", async () => {
    const page = await openPage();
    await page.selectOption("#job-type", "wordcount");
    await expect
      .poll(() => page.textContent("#job-type-description"))
      .toBe("Counts the words of `text`, the most frequent first. At most 4 of these run at once.");
    await page.selectOption("#job-type", "echo");
    expect(await page.textContent("#job-type-description")).not.toMatch(/at once/);
    const jobId = await submit(page, "wordcount", { text: "a b a" });
    await expect.poll(() => attr(page, jobId, "status"), { timeout: 10_000 }).toBe("succeeded");
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.close();
  });

  it("shows an ended job's webhook delivery on its card", async () => {
    const receiver = await startWebhookReceiver();
    try {
      const page = await openPage();
      // What a server-side caller does with the client's identity: a secret, then a job with a webhook.
      const jobId = await page.evaluate(async (hook) => {
        await fetch("/v1/clients/me/webhook-secret", { method: "POST", credentials: "include" });
        const res = await fetch("/v1/jobs", {
          method: "POST",
          credentials: "include",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ type: "echo", payload: { hooked: true }, webhook: { url: hook } }),
        });
        return ((await res.json()) as { jobId: string }).jobId;
      }, `${receiver.url}/hook`);
      await expect.poll(() => attr(page, jobId, "webhook"), { timeout: 10_000 }).toBe("delivered");
      expect(await card(page, jobId).locator(".job-webhook").textContent()).toBe("webhook (job): delivered, 200");
      expect(receiver.received.map((r) => r.event)).toEqual(["job.succeeded"]);
      expect((page as Page & { errors: string[] }).errors).toEqual([]);
      await page.close();
    } finally {
      await receiver.close();
    }
  });

  it("shows a failed job's error, and cancels from the card", async () => {
    const page = await openPage();
    const failed = await submit(page, "fail", { message: "shown to the user" });
    await expect.poll(() => attr(page, failed, "status"), { timeout: 5_000 }).toBe("failed");
    expect(await card(page, failed).locator(".job-error").textContent()).toBe("job_failed: shown to the user");
    const long = await submit(page, "sleep", { ms: 30_000, steps: 30 });
    await expect.poll(() => attr(page, long, "status"), { timeout: 5_000 }).toBe("running");
    await card(page, long).locator(".job-cancel").click();
    await expect.poll(() => attr(page, long, "status"), { timeout: 5_000 }).toBe("canceled");
    await page.close();
  });

  it("takes the README's screenshot: jobs in several states", async () => {
    const page = await openPage();
    await submit(page, "fail", { message: "the report template is missing" });
    await submit(page, "echo", { hello: "world" });
    const flaky = await submit(page, "flaky", { failTimes: 1 });
    await expect.poll(() => attr(page, flaky, "status"), { timeout: 10_000 }).toBe("succeeded");
    await submit(page, "sleep", { ms: 60_000, steps: 10 });
    const running = await submit(page, "sleep", { ms: 8_000, steps: 8 });
    await expect
      .poll(async () => Number(await attr(page, running, "progress")), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(37);
    // UPDATE_SCREENSHOT=1 npx vitest run test/web.test.ts refreshes the README's picture.
    const file = process.env.UPDATE_SCREENSHOT ? "docs/screenshot.png" : path.join(tmpdir(), "herald-screenshot.png");
    await page.screenshot({ path: file });
    expect(statSync(file).size).toBeGreaterThan(10_000);
    await page.close();
  });
});
