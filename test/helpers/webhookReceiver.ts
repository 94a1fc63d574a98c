import http from "node:http";
import type { AddressInfo } from "node:net";
import { verifyWebhook } from "../../libs/webhooks/mod.ts";

/** One request a receiver got. */
export interface ReceivedWebhook {
  id: string;
  timestamp: number;
  signature: string;
  event: string | undefined;
  /** The herald-attempt header: 1 for the first try. */
  attempt: number;
  body: string;
  /** Whether the signature verified with one of the receiver's secrets. */
  verified: boolean;
  at: number;
}

/** What the receiver does with the n-th request (1-based) of a webhook-id: a status, or "hang" (never answer). */
export type Answer = number | "hang";

/**
 * A real webhook receiver on 127.0.0.1 for tests: records every request, checks every signature
 * (verifyWebhook with the secrets it is told), and answers as `answer` says (200 by default).
 */
export async function startWebhookReceiver(
  opts: { answer?: (req: ReceivedWebhook, nth: number) => Answer; secrets?: () => string[] } = {},
) {
  const received: ReceivedWebhook[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      const h = req.headers as Record<string, string | undefined>;
      const secrets = opts.secrets?.() ?? [];
      const r: ReceivedWebhook = {
        id: h["webhook-id"] ?? "",
        timestamp: Number(h["webhook-timestamp"]),
        signature: h["webhook-signature"] ?? "",
        event: h["herald-event"],
        attempt: Number(h["herald-attempt"]),
        body,
        verified: secrets.some((secret) => verifyWebhook({ body, headers: h, secret })),
        at: Date.now(),
      };
      received.push(r);
      const nth = received.filter((x) => x.id === r.id).length;
      const answer = opts.answer?.(r, nth) ?? 200;
      if (answer === "hang") {
        hanging.add(res);
        return;
      }
      res.writeHead(answer, { "content-type": "text/plain" }).end(`answered ${answer}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    /** Every request for one webhook-id, in order. */
    of: (id: string) => received.filter((r) => r.id === id),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
