import {
  HeraldError,
  InvalidInputError,
  UnavailableError,
  WEBHOOK_EVENTS,
  type JobEventName,
  type WebhookTarget,
} from "../../libs/contracts/mod.ts";
import { checkWebhookUrl, readWebhookSecrets, resolveWebhookHost } from "../../libs/webhooks/mod.ts";
import type { ApiDeps } from "./deps.ts";

/**
 * A webhook as a request gives it (`webhook` in POST /v1/jobs, the body of PUT
 * /v1/clients/me/webhook), checked before anything is stored: the URL by the SSRF policy, after
 * DNS (400 invalid_webhook_url, or webhook_url_refused with why), the event names (400
 * invalid_webhook_events), and the client's signing secret (400 webhook_secret_missing: every
 * delivery is signed, so there must be a secret to sign with). The send checks the address again
 * when it connects (docs/design.md, "Webhooks").
 */
export async function requestedWebhook(
  deps: Pick<ApiDeps, "webhookConfig" | "webhookPolicy" | "webhookLookup">,
  clientId: string,
  raw: unknown,
): Promise<WebhookTarget> {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new InvalidInputError("`webhook` must be an object { url, events? }", "invalid_webhook");
  }
  const { url: rawUrl, events: rawEvents, ...rest } = raw as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length) {
    throw new InvalidInputError(`webhook: unknown field ${JSON.stringify(unknownKeys[0])}`, "invalid_webhook");
  }
  const events = webhookEvents(rawEvents);
  const url = checkWebhookUrl(rawUrl, deps.webhookPolicy);
  try {
    await resolveWebhookHost(url, deps.webhookPolicy, deps.webhookLookup);
  } catch (err) {
    if (err instanceof HeraldError) throw err; // refused, or a name that does not resolve: 400
    // The resolver itself failed (EAI_AGAIN: a DNS server away): nothing is wrong with the request.
    throw new UnavailableError(`could not resolve ${url.hostname} just now; try again`, "webhook_dns_unavailable", 2);
  }
  if (!(await readWebhookSecrets(deps.webhookConfig, clientId))) {
    throw new InvalidInputError(
      "this client has no webhook secret to sign deliveries with; create one first: POST /v1/clients/me/webhook-secret",
      "webhook_secret_missing",
    );
  }
  return { url: url.href, events };
}

function webhookEvents(raw: unknown): JobEventName[] | null {
  if (raw === undefined || raw === null) return null;
  const known = `known events: ${WEBHOOK_EVENTS.join(", ")}`;
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new InvalidInputError(
      `webhook.events must be a non-empty list of event names; ${known}`,
      "invalid_webhook_events",
    );
  }
  for (const e of raw) {
    if (typeof e !== "string" || !(WEBHOOK_EVENTS as readonly string[]).includes(e)) {
      throw new InvalidInputError(
        `webhook.events: unknown event ${JSON.stringify(e)}; ${known}`,
        "invalid_webhook_events",
      );
    }
  }
  return [...new Set(raw as JobEventName[])];
}
