import { isClientId } from "./ids.ts";
import { JOB_EVENTS, TERMINAL_EVENTS, type JobEventName } from "./events.ts";

/**
 * Webhooks: where a job's events are also POSTed, signed per Standard Webhooks (docs/design.md,
 * "Webhooks"). A target is a job's own (`POST /v1/jobs` `webhook`) or its client's
 * (`PUT /v1/clients/me/webhook`).
 */
export interface WebhookTarget {
  url: string;
  /** The event names it gets; null: the terminal ones (succeeded, failed, canceled). */
  events: JobEventName[] | null;
}

export type WebhookKind = "job" | "client";

/** Whether a target gets an event: its own list, or by default the terminal events only. */
export function webhookWants(target: WebhookTarget, event: JobEventName): boolean {
  return target.events === null ? TERMINAL_EVENTS.has(event) : target.events.includes(event);
}

/** The event names a target may list. */
export const WEBHOOK_EVENTS: readonly JobEventName[] = JOB_EVENTS;

/**
 * The header on every RESULTS event of a job that has its own webhook: the target as JSON. Every
 * writer of the job's events passes it on (the worker from the job message, a cancel from the event
 * it fences on), so the dispatcher knows a job's target from the event alone, on any worker.
 */
export const JOB_WEBHOOK_HEADER = "Herald-Webhook";

/**
 * One delivery of one event to one target: a message in WEBHOOKS until it is delivered or dead
 * lettered. Its `webhookId` is the same on every attempt (`webhook-id`), so a receiver can drop
 * repeats.
 */
export interface WebhookDelivery {
  webhookId: string;
  kind: WebhookKind;
  url: string;
  clientId: string;
  jobId: string;
  /** The event's RESULTS sequence (its SSE id). */
  eventId: number;
  event: JobEventName;
  /** The event envelope's JSON text, as stored and as sent over SSE: the request body. */
  body: string;
  enqueuedAt: string;
}

/** A delivery that failed for good: in WEBHOOKS_DLQ, with why. */
export interface WebhookDeadLetter {
  delivery: WebhookDelivery;
  attempts: number;
  error: { code: string; message: string; status?: number };
  failedAt: string;
}

/** `<jobId>.<eventId>.<kind>`: one event to one target; the same on every attempt and resend. */
export function webhookIdOf(jobId: string, eventId: number, kind: WebhookKind): string {
  return `msg_${jobId}_${eventId}_${kind}`;
}

function assertClientId(clientId: string): void {
  if (!isClientId(clientId)) throw new TypeError(`invalid client id for a subject: ${JSON.stringify(clientId)}`);
}

/** `webhooks.<clientId>`: a delivery waiting in WEBHOOKS; per client, so that JetStream bounds each client's backlog. */
export function webhookDeliverySubject(clientId: string): string {
  assertClientId(clientId);
  return `webhooks.${clientId}`;
}

/** `webhooks-dlq.<clientId>`: a delivery that failed for good, in WEBHOOKS_DLQ. */
export function webhookDeadLetterSubject(clientId: string): string {
  assertClientId(clientId);
  return `webhooks-dlq.${clientId}`;
}

/** A target as a writer stored it in the Herald-Webhook header, or null if absent or not one. */
export function jobWebhookOf(header: string | undefined | null): WebhookTarget | null {
  if (!header) return null;
  try {
    const t = JSON.parse(header) as Partial<WebhookTarget>;
    if (typeof t.url !== "string") return null;
    const events = Array.isArray(t.events)
      ? t.events.filter((e): e is JobEventName => (WEBHOOK_EVENTS as readonly string[]).includes(e))
      : null;
    return { url: t.url, events };
  } catch {
    return null;
  }
}
