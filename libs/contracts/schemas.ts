/**
 * The JSON shapes of herald's HTTP API, each defined once, with TypeBox: the schema is what the
 * API's routes validate and serialize with and what its OpenAPI document (/docs) shows, and
 * `Static<>` of it is the TypeScript type that the api, the client library, the CLI and the web
 * page use.
 *
 * mod.ts exports only the types of this file. The schemas are values built by TypeBox at load
 * time, and TypeBox in a bundle is ~45 KB minified, nearly three times the whole web page, which
 * bundles mod.ts (through the client library; mod.test.ts checks). The API imports the schemas
 * from here.
 */
import { Type, type Static } from "@sinclair/typebox";
import { JOB_EVENTS } from "./events.ts";
import { JOB_STATUSES } from "./status.ts";
import { Nullable, StringEnum } from "./jsonSchema.ts";

export const JobProgressSchema = Type.Object({
  /** 0..100 */
  pct: Type.Number(),
  message: Nullable(Type.String()),
});
export type JobProgress = Static<typeof JobProgressSchema>;

export const JobErrorSchema = Type.Object({
  /** A stable machine-readable code: `handler_error`, `invalid_payload`, `max_attempts`, … */
  code: Type.String(),
  message: Type.String(),
});
export type JobError = Static<typeof JobErrorSchema>;

/** The public state of a job: what `GET /v1/jobs/:id` (and `DELETE`) answer. */
export const JobStateSchema = Type.Object(
  {
    jobId: Type.String(),
    type: Type.String(),
    status: StringEnum(JOB_STATUSES),
    /** The last event's name (`progress`, `retrying`, …): finer than `status`. */
    event: StringEnum(JOB_EVENTS),
    attempt: Type.Integer(),
    progress: Nullable(JobProgressSchema),
    result: Type.Unknown({ description: "the handler's result (any JSON value), once succeeded" }),
    error: Nullable(JobErrorSchema),
    createdAt: Type.String({ format: "date-time" }),
    updatedAt: Type.String({ format: "date-time" }),
    finishedAt: Nullable(Type.String({ format: "date-time" })),
    /** When a job submitted with `runAt` or `delay` is due; null for a job that ran at once. */
    runAt: Nullable(Type.String({ format: "date-time" })),
    eventId: Type.Integer({ description: "RESULTS sequence of the latest event: resume an event stream from here" }),
    statusUrl: Type.String(),
    eventsUrl: Type.String(),
  },
  { $id: "JobState" },
);
export type JobState = Static<typeof JobStateSchema>;

/** Most jobs one page of `GET /v1/jobs` holds, and how many when the caller does not say. */
export const MAX_JOBS_PER_PAGE = 200;
export const DEFAULT_JOBS_PER_PAGE = 50;

/** The query of `GET /v1/jobs`. Each is read again by the api (apps/api/listJobsQuery.ts) for its 400 codes. */
export const ListJobsQuerySchema = Type.Object({
  status: Type.Optional(
    Type.String({
      description: `only jobs in these statuses, comma-separated (${JOB_STATUSES.join(", ")}); else 400 invalid_status`,
    }),
  ),
  type: Type.Optional(Type.String({ description: "only jobs of this type" })),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_JOBS_PER_PAGE,
      default: DEFAULT_JOBS_PER_PAGE,
      description: `at most this many jobs (1 to ${MAX_JOBS_PER_PAGE}, default ${DEFAULT_JOBS_PER_PAGE}); else 400 invalid_limit`,
    }),
  ),
  cursor: Type.Optional(
    Type.String({ description: "the `nextCursor` of the page before, as it was answered; else 400 invalid_cursor" }),
  ),
});

/** What `GET /v1/jobs` answers: the caller's jobs, newest first. */
export const JobListSchema = Type.Object({
  jobs: Type.Array(Type.Ref(JobStateSchema)),
  nextCursor: Nullable(
    Type.String({
      description:
        "ask again with ?cursor= for older jobs; null: there are none. A filtered page may hold fewer than `limit` jobs and still have one",
    }),
  ),
  eventId: Type.Integer({
    description:
      "a RESULTS sequence read before the jobs were: every event of these jobs up to it is in their states, so an event stream resumed from it (Last-Event-ID) misses nothing",
  }),
});
export type JobList = Static<typeof JobListSchema>;

/** The body of `POST /v1/jobs`. */
export const SubmitJobRequestSchema = Type.Object({
  type: Type.String({ minLength: 1, maxLength: 64 }),
  payload: Type.Optional(Type.Unknown()),
  timeout: Type.Optional(
    // No length or range here: every string and number is read by parseRequestDuration, so that
    // anything that is not a time limit gets the one answer, 400 invalid_timeout.
    Type.Union([Type.String(), Type.Number()], {
      description:
        'How long each attempt may run: "30s", "5m", "250ms", or a number of milliseconds; at most the ' +
        "type's own limit (`timeoutMs` in GET /v1/job-types). An attempt past it is aborted and ends with " +
        "error code `timeout` (retried like a handler error).",
    }),
  ),
  // Checked by resolveRunAt (libs/contracts/runAt.ts), not here, so that each mistake gets its own code.
  runAt: Type.Optional(
    Type.String({
      description: "Run no earlier than this RFC 3339 time (e.g. 2026-12-01T09:30:00Z); not with `delay`",
    }),
  ),
  delay: Type.Optional(
    Type.Union([Type.String(), Type.Number()], {
      description: 'Run after this long: "30s", "5m", "2h", or milliseconds; not with `runAt`. At most JOB_MAX_DELAY',
    }),
  ),
  // Checked by requestedWebhook (apps/api), not here, so that each mistake gets its own code.
  webhook: Type.Optional(
    Type.Unknown({
      description:
        "{ url, events? }: POST this job's events to `url` (https), signed per Standard Webhooks with the client's " +
        "secret (POST /v1/clients/me/webhook-secret first). `events` lists event names (queued, started, progress, " +
        "retrying, succeeded, failed, canceled); by default the terminal ones.",
    }),
  ),
});

/** A webhook target: where a client's (or a job's) events are POSTed. */
export const WebhookTargetSchema = Type.Object({
  url: Type.String({ description: "https URL (http only with WEBHOOK_ALLOW_HTTP)" }),
  events: Nullable(
    Type.Array(StringEnum(["queued", "started", "progress", "retrying", "succeeded", "failed", "canceled"]), {
      description: "the event names sent; null: the terminal ones (succeeded, failed, canceled)",
    }),
  ),
});
export type SubmitJobRequest = Static<typeof SubmitJobRequestSchema>;

/** What `POST /v1/jobs` answers (202). */
export const SubmittedJobSchema = Type.Object({
  jobId: Type.String(),
  /** `scheduled` when submitted with a `runAt` or `delay` still ahead. */
  status: StringEnum(["queued", "scheduled"]),
  statusUrl: Type.String(),
  eventsUrl: Type.String(),
  /** The `queued` event's RESULTS sequence. */
  eventId: Type.Integer(),
});
export type SubmittedJob = Static<typeof SubmittedJobSchema>;

/** What `POST /v1/clients` answers (201). */
export const ClientIdentitySchema = Type.Object({
  clientId: Type.String(),
  token: Type.String(),
  expiresAt: Type.String({ format: "date-time" }),
});
export type ClientIdentity = Static<typeof ClientIdentitySchema>;

/** What `GET /v1/clients/me` answers: who the token (or cookie) says the caller is. */
export const CurrentClientSchema = Type.Pick(ClientIdentitySchema, ["clientId", "expiresAt"]);
export type CurrentClient = Static<typeof CurrentClientSchema>;

/** One of the job types `GET /v1/job-types` lists. */
export const JobTypeInfoSchema = Type.Object({
  name: Type.String(),
  description: Nullable(Type.String()),
  /** An example payload, or null. */
  example: Type.Unknown(),
  /** The payload's JSON Schema. */
  schema: Type.Unknown(),
  timeoutMs: Nullable(
    Type.Integer({
      description:
        "How long an attempt of this type may run (ms); null for no limit. A job may ask for less (`timeout`).",
    }),
  ),
  concurrency: Nullable(
    Type.Integer({
      description:
        "How many jobs of this type run at once at most, across all workers; null for no cap (each worker's WORKER_CONCURRENCY still bounds it).",
    }),
  ),
});
export type JobTypeInfo = Static<typeof JobTypeInfoSchema>;

/** The body of every error answer. */
export const ErrorBodySchema = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: "Error" },
);
export type ErrorBody = Static<typeof ErrorBodySchema>;

/**
 * The data of a `gap` notice on an event stream: events after `lastEventId` are no longer kept.
 * (An SSE event's data, so no route declares it; its shape is defined here with the others.)
 */
export const GapNoticeSchema = Type.Object({
  reason: StringEnum(["expired", "unknown_id"]),
  lastEventId: Type.Integer(),
  firstAvailable: Type.Integer(),
});
export type GapNotice = Static<typeof GapNoticeSchema>;
