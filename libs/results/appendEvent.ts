import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  encodeEvent,
  isTerminal,
  JOB_WEBHOOK_HEADER,
  queuedMsgId,
  resultSubject,
  terminalMsgId,
  type JobEvent,
  type WebhookTarget,
} from "../contracts/mod.ts";
import { isJetStreamError, JetStreamErrorCode } from "../nats/mod.ts";
import { AlreadyTerminalError, EventFencedError } from "./errors.ts";

/**
 * Stores one event of a job in RESULTS, fenced: it is stored only if the job's last stored event
 * is still `expectedLastSeq` (0 before `queued`). Returns the event's stream sequence.
 *
 * Terminal events all carry the Msg-Id `<jobId>.terminal`, so that inside the duplicate window a
 * second terminal is never stored even if the fence were somehow passed; `queued` carries
 * `<jobId>.queued` so a retried submit is answered with the first one's sequence.
 *
 * A job with its own webhook has it on every event (header Herald-Webhook): each writer passes on
 * `webhook` from what it holds (the job message, or the event it fences on), so that the webhook
 * dispatcher knows the job's target from the event alone (docs/design.md, "Webhooks").
 *
 * Throws EventFencedError when another event came first, AlreadyTerminalError when a terminal
 * event already exists (duplicate Msg-Id).
 * The design: docs/design.md, "Fencing" ("The fence", "Msg-Ids").
 */
export async function appendEvent(
  js: JetStreamClient,
  event: JobEvent,
  expectedLastSeq: number,
  opts: { webhook?: WebhookTarget | null } = {},
): Promise<number> {
  const terminal = isTerminal(event.event);
  const msgID = terminal ? terminalMsgId(event.jobId) : event.event === "queued" ? queuedMsgId(event.jobId) : undefined;
  let headers: ReturnType<typeof natsHeaders> | undefined;
  if (opts.webhook) {
    headers = natsHeaders();
    headers.set(JOB_WEBHOOK_HEADER, JSON.stringify(opts.webhook));
  }
  try {
    const ack = await js.publish(resultSubject(event.clientId, event.jobId), encodeEvent(event), {
      expect: { lastSubjectSequence: expectedLastSeq },
      ...(msgID ? { msgID } : {}),
      ...(headers ? { headers } : {}),
    });
    if (ack.duplicate && terminal) throw new AlreadyTerminalError(event.jobId);
    return ack.seq;
  } catch (err) {
    if (isJetStreamError(err, JetStreamErrorCode.WRONG_LAST_SEQUENCE)) {
      throw new EventFencedError(event.jobId, expectedLastSeq, { cause: err });
    }
    throw err;
  }
}
