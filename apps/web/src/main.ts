import {
  createClient,
  HeraldHttpError,
  isTerminal,
  registerClient,
  type CurrentClient,
  type JobTypeInfo,
  type StreamItem,
} from "../../../libs/client/mod.ts";
import { JobCard, type WebhookDeliveryState } from "./jobCard.ts";

// The web page: the client's newest jobs as cards (GET /v1/jobs), then one event stream for all of
// its jobs (one connection, whatever the number of jobs) that keeps them up to date, and a
// connection indicator. Authenticated by the HttpOnly cookie herald sets: this script never holds
// a token.

/** How many of the newest jobs a (re)load shows: one page, however long the client's history. */
const RESTORED_JOBS = 100;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const url = location.origin;
const herald = createClient({ url });
const cards = new Map<string, JobCard>();
const connection = $("connection");

function setConnection(state: string, text: string): void {
  connection.dataset.state = state;
  connection.textContent = text;
}

async function ensureIdentity(): Promise<string> {
  const me = await fetch(`${url}/v1/clients/me`, { credentials: "include" });
  if (me.ok) return ((await me.json()) as CurrentClient).clientId;
  return (await registerClient({ url })).clientId; // sets the cookie
}

const WEBHOOK_POLLS = 10;

/**
 * Shows an ended job's webhook deliveries on its card: read a moment after the end (the delivery
 * is sent after the event), then again while one is being retried, at most WEBHOOK_POLLS times.
 * A job with no webhook answers [] once and is not asked again. Asked for jobs that end while the
 * page is open, not for the restored ones: a reload costs no request per card.
 */
async function watchWebhooks(jobId: string): Promise<void> {
  for (let i = 0; i < WEBHOOK_POLLS; i++) {
    await new Promise((r) => setTimeout(r, i === 0 ? 500 : 2_000));
    const res = await fetch(`${url}/v1/jobs/${jobId}/webhooks`, { credentials: "include" }).catch(() => null);
    if (!res?.ok) continue;
    const { deliveries } = (await res.json()) as { deliveries: WebhookDeliveryState[] };
    if (deliveries.length === 0 && i > 0) return;
    if (deliveries.length > 0) cards.get(jobId)?.showWebhooks(deliveries);
    if (deliveries.length > 0 && deliveries.every((d) => d.state !== "retrying")) return;
  }
}

function cardFor(jobId: string, type: string): JobCard {
  let card = cards.get(jobId);
  if (!card) {
    card = new JobCard(jobId, type, (id) => void cancel(id));
    cards.set(jobId, card);
    $("jobs").prepend(card.element);
    $("no-jobs").hidden = true;
  }
  return card;
}

async function cancel(jobId: string): Promise<void> {
  try {
    await herald.cancel(jobId);
  } catch (err) {
    if (!(err instanceof HeraldHttpError && err.status === 409)) $("form-error").textContent = (err as Error).message;
  }
}

async function setUpForm(): Promise<void> {
  const types = (await (await fetch(`${url}/v1/job-types`)).json()) as JobTypeInfo[];
  const select = $<HTMLSelectElement>("job-type");
  const payload = $<HTMLTextAreaElement>("job-payload");
  for (const t of types) select.append(new Option(t.name, t.name));
  const show = () => {
    const t = types.find((x) => x.name === select.value);
    $("job-type-description").textContent = [
      t?.description,
      // Why a job of a capped type can stay queued while others run.
      t?.concurrency != null ? `At most ${t.concurrency} of these run at once.` : null,
    ]
      .filter(Boolean)
      .join(" ");
    payload.value = JSON.stringify(t?.example ?? {}, null, 0);
  };
  select.addEventListener("change", show);
  select.value = types.some((t) => t.name === "sleep") ? "sleep" : (types[0]?.name ?? "");
  show();
  $<HTMLFormElement>("submit-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = $("form-error");
    error.textContent = "";
    let body: unknown;
    try {
      body = JSON.parse(payload.value || "{}");
    } catch {
      error.textContent = "The payload is not valid JSON.";
      return;
    }
    try {
      const job = await herald.submit(select.value, body);
      cardFor(job.jobId, select.value);
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  });
}

/**
 * Restores the newest jobs from the list, then follows every event of this client from the list's
 * eventId: read before the jobs were, so every event the restored cards do not hold comes on the
 * stream (and one they do hold is skipped by its card). Older jobs get a card when they next move.
 */
async function follow(): Promise<void> {
  let since: number | "earliest";
  try {
    const page = await herald.jobs({ limit: RESTORED_JOBS });
    for (const state of [...page.jobs].reverse()) cardFor(state.jobId, state.type).restore(state);
    since = page.eventId;
  } catch {
    since = "earliest"; // no list (an older herald, or NATS away): every retained event restores the cards
  }
  let resumedAt: number | null = null;
  let replayed = 0;
  for await (const item of herald.events({ since }) as AsyncGenerator<StreamItem>) {
    if (item.type === "connection") {
      if (item.state === "open") setConnection("live", "live");
      if (item.state === "reconnecting") setConnection("reconnecting", "reconnecting…");
      if (item.state === "resumed") {
        resumedAt = Date.now();
        replayed = 0;
        setConnection("resumed", "resumed");
      }
    } else if (item.type === "gap") {
      setConnection("resumed", "resumed — some old events were no longer kept");
    } else {
      cardFor(item.event.jobId, item.event.type).apply(item.id, item.event);
      if (isTerminal(item.event.event)) void watchWebhooks(item.event.jobId);
      // Events that happened while we were away come first after a resume: count them.
      if (resumedAt !== null && Date.parse(item.event.at) < resumedAt) {
        replayed++;
        connection.dataset.replayed = String(replayed);
        setConnection("resumed", `resumed — ${replayed} missed event${replayed === 1 ? "" : "s"} replayed`);
      }
    }
  }
}

const clientId = await ensureIdentity();
$("identity").textContent = `client ${clientId}`;
await setUpForm();
void follow();
