import { isTerminal, jobStatus, type JobEvent, type JobState, type JobStatus } from "../../../libs/client/mod.ts";

/** One of a job's webhook delivery states, as GET /v1/jobs/:id/webhooks answers it. */
export interface WebhookDeliveryState {
  kind: "job" | "client";
  state: "delivered" | "retrying" | "failed" | "gone" | "dropped";
  attempts: number;
  status?: number;
  error?: { code: string; message: string };
  nextAttemptAt?: string;
}

/**
 * What a card shows of a job: the fields an event and a state (GET /v1/jobs) have alike, and when
 * it runs (an event's `runAt` is absent when none; a state's is null).
 */
type Shown = Pick<JobEvent, "event" | "attempt" | "progress" | "result" | "error"> & { runAt?: string | null };

/**
 * One job as a card: status, a progress bar with the handler's message, the attempt, and the
 * result or error when it ends; a Cancel button while it runs. Built with DOM calls only (no
 * innerHTML), so a job's payload or result can never inject markup.
 * data-* attributes mirror the state, for styling and for the browser tests: the status, the bar,
 * the last event's id and the last progress step. Only the latest of each: a card lives as long
 * as the page, and a job can send thousands of events.
 */
export class JobCard {
  readonly element: HTMLLIElement;
  #status: HTMLElement;
  #bar: HTMLProgressElement;
  #message: HTMLElement;
  #attempt: HTMLElement;
  #outcome: HTMLElement;
  #webhook: HTMLElement;
  #cancel: HTMLButtonElement;

  constructor(jobId: string, type: string, onCancel: (jobId: string) => void) {
    const el = (tag: string, cls: string, text = "") => {
      const e = document.createElement(tag);
      e.className = cls;
      e.textContent = text;
      return e;
    };
    this.element = document.createElement("li");
    this.element.className = "job";
    this.element.dataset.jobId = jobId;
    const head = el("div", "job-head");
    this.#status = el("span", "job-status", "queued");
    this.#cancel = el("button", "job-cancel", "Cancel") as HTMLButtonElement;
    this.#cancel.type = "button";
    this.#cancel.setAttribute("aria-label", `Cancel job ${jobId}`);
    this.#cancel.addEventListener("click", () => onCancel(jobId));
    head.append(el("span", "job-type", type), el("span", "job-id", jobId), this.#status, this.#cancel);
    this.#bar = document.createElement("progress");
    this.#bar.max = 100;
    this.#bar.value = 0;
    this.#bar.setAttribute("aria-label", `Progress of job ${jobId}`);
    this.#message = el("p", "job-message");
    this.#attempt = el("p", "job-attempt");
    this.#outcome = el("div", "job-outcome");
    this.#webhook = el("p", "job-webhook");
    this.element.append(head, this.#bar, this.#message, this.#attempt, this.#outcome, this.#webhook);
    this.#render("queued");
  }

  /** Shows a job as GET /v1/jobs answered it (a page restored after a reload). */
  restore(state: JobState): void {
    this.#show(state.eventId, state);
  }

  /**
   * Applies one event, in order. An event the card already holds (at or below the id of the state
   * it was restored from: the stream resumes from the list's eventId, read before the states) is
   * skipped.
   */
  apply(id: number, e: JobEvent): void {
    const last = Number(this.element.dataset.lastEventId ?? 0);
    if (id <= last) return;
    this.#show(id, e);
  }

  #show(id: number, e: Shown): void {
    this.element.dataset.lastEventId = String(id);
    if (e.event === "progress" && e.progress) this.element.dataset.progressStep = String(e.progress.pct);
    if (e.progress) {
      this.#bar.value = e.progress.pct;
      this.#message.textContent = e.progress.message ?? "";
    }
    if (e.attempt > 0) this.#attempt.textContent = `attempt ${e.attempt}`;
    if (e.event === "succeeded") {
      this.#bar.value = 100;
      this.#outcome.replaceChildren(
        Object.assign(document.createElement("pre"), {
          className: "job-result",
          textContent: JSON.stringify(e.result, null, 2),
        }),
      );
    }
    if ((e.event === "failed" || e.event === "retrying") && e.error) {
      this.#outcome.replaceChildren(
        Object.assign(document.createElement("p"), {
          className: "job-error",
          textContent: `${e.error.code}: ${e.error.message}`,
        }),
      );
    }
    // A scheduled job's card says `scheduled` until its next event (`started`), not `queued` at
    // its due time: the page renders on events only.
    this.#render(jobStatus(e, Date.now()));
    if (isTerminal(e.event)) this.#cancel.remove();
  }

  /**
   * Shows where the job's webhooks stand (GET /v1/jobs/:id/webhooks): one line per target, its
   * latest delivery, e.g.
   * "webhook (job): delivered, 200". data-webhook holds the states, for the browser tests.
   */
  showWebhooks(deliveries: readonly WebhookDeliveryState[]): void {
    // One line per target: its latest delivery (the list is in event order).
    const latest = [...new Map(deliveries.map((d) => [d.kind, d])).values()];
    this.element.dataset.webhook = latest.map((d) => d.state).join(",");
    this.#webhook.textContent = latest
      .map((d) => {
        const detail =
          d.state === "delivered" || d.state === "gone"
            ? `${d.status}`
            : d.state === "retrying"
              ? `attempt ${d.attempts} failed (${d.error?.code ?? d.status}), next at ${d.nextAttemptAt ?? "?"}`
              : d.state === "failed"
                ? `${d.attempts} attempts: ${d.error?.message ?? ""}`
                : "webhook removed";
        return `webhook (${d.kind === "job" ? "job" : "client"}): ${d.state}, ${detail}`;
      })
      .join("\n");
  }

  #render(status: JobStatus): void {
    this.element.dataset.status = status;
    this.#status.textContent = status;
    this.element.dataset.progress = String(this.#bar.value);
  }
}
