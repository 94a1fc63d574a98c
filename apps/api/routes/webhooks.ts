import type { FastifyPluginAsync } from "fastify";
import { Type } from "@sinclair/typebox";
import { InvalidInputError, isJobId, NotFoundError } from "../../../libs/contracts/mod.ts";
import { WebhookTargetSchema } from "../../../libs/contracts/schemas.ts";
import { tokenSecurity as security } from "../../../libs/http/mod.ts";
import {
  deleteClientWebhook,
  putClientWebhook,
  readClientWebhook,
  readWebhookStatus,
  rotateWebhookSecret,
} from "../../../libs/webhooks/mod.ts";
import type { ApiDeps } from "../deps.ts";
import { errors, jobIdParams } from "../schemas.ts";
import { requestedWebhook } from "../requestedWebhook.ts";
import { authenticateClientRequests } from "../clientRequests.ts";
import { getJobState } from "../getJobState.ts";

const WebhookSecretSchema = Type.Object({
  secret: Type.String({ description: "whsec_…: shown once; verify deliveries with it (Standard Webhooks)" }),
});

const WebhookDeliveryStateSchema = Type.Object({
  webhookId: Type.String(),
  kind: Type.Union([Type.Literal("job"), Type.Literal("client")]),
  url: Type.String(),
  event: Type.String(),
  eventId: Type.Integer(),
  state: Type.Union(["delivered", "retrying", "failed", "gone", "dropped"].map((s) => Type.Literal(s))),
  attempts: Type.Integer(),
  status: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  nextAttemptAt: Type.Optional(Type.String()),
  at: Type.String(),
});

/**
 * A client's webhook and signing secret, and a job's delivery status (docs/design.md, "Webhooks"):
 * - PUT /v1/clients/me/webhook `{ url, events? }`: every job's events (by default the terminal ones)
 *   go there too; GET shows it; DELETE removes it.
 * - POST /v1/clients/me/webhook-secret: creates or rotates the secret that signs every delivery of
 *   the client's jobs; answers it once (201). After a rotation the old one also signs for
 *   WEBHOOK_SECRET_GRACE.
 * - GET /v1/jobs/:id/webhooks: the latest delivery state of each of the job's targets.
 */
export const webhookRoutes: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  authenticateClientRequests(app, deps);

  app.put(
    "/v1/clients/me/webhook",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Register the client's webhook: its jobs' events are POSTed there, signed",
        security,
        body: Type.Object({}, { additionalProperties: true }),
        response: { 200: WebhookTargetSchema, ...errors(400, 401, 503) },
      },
    },
    async (request) => {
      const target = await requestedWebhook(deps, request.clientId, request.body);
      await putClientWebhook(deps.webhookConfig, request.clientId, target);
      request.log.info({ clientId: request.clientId, events: target.events }, "client webhook registered");
      return target;
    },
  );

  app.get(
    "/v1/clients/me/webhook",
    {
      schema: {
        tags: ["webhooks"],
        summary: "The client's webhook",
        security,
        response: { 200: WebhookTargetSchema, ...errors(401, 404, 503) },
      },
    },
    async (request) => {
      const target = await readClientWebhook(deps.webhookConfig, request.clientId);
      if (!target) throw new NotFoundError("this client has no webhook", "webhook_not_found");
      return target;
    },
  );

  app.delete(
    "/v1/clients/me/webhook",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Remove the client's webhook (deliveries not yet sent to it are dropped)",
        security,
        response: { 204: Type.Null(), ...errors(401, 503) },
      },
    },
    async (request, reply) => {
      await deleteClientWebhook(deps.webhookConfig, request.clientId);
      request.log.info({ clientId: request.clientId }, "client webhook removed");
      return reply.status(204).send();
    },
  );

  app.post(
    "/v1/clients/me/webhook-secret",
    {
      schema: {
        tags: ["webhooks"],
        summary: "Create or rotate the client's webhook signing secret (shown once)",
        security,
        response: { 201: WebhookSecretSchema, ...errors(401, 503) },
      },
    },
    async (request, reply) => {
      const secret = await rotateWebhookSecret(deps.webhookConfig, request.clientId, deps.webhookSecretGraceMs);
      // Never the secret itself: logs are not where secrets go.
      request.log.info({ clientId: request.clientId }, "webhook secret created or rotated");
      return reply.status(201).send({ secret });
    },
  );

  app.get(
    "/v1/jobs/:id/webhooks",
    {
      schema: {
        tags: ["webhooks"],
        summary: "The latest delivery state of each of the job's webhooks (its own, its client's)",
        security,
        params: jobIdParams,
        response: {
          200: Type.Object({ deliveries: Type.Array(WebhookDeliveryStateSchema) }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request) => {
      const jobId = (request.params as { id: string }).id;
      if (!isJobId(jobId)) throw new InvalidInputError("the job id must be a ULID (26 characters)", "invalid_job_id");
      // A job of another client is a 404 like a job that does not exist (its events are under its client).
      await getJobState(deps, request.clientId, jobId);
      return { deliveries: await readWebhookStatus(deps.webhookStatus, request.clientId, jobId) };
    },
  );
};
