/**
 * One `POST /v1/jobs` over a keep-alive agent, as the open-loop generators send it (scenarios 1, 2,
 * 6, 7, the soak): `onResponse` when the head arrives (status, then the body's text at its end),
 * `onError` for a transport error. No promise per job: thousands a second.
 */
import http from "node:http";

export function postJob(
  o: { agent: http.Agent; api: URL; token: string; body: string },
  onResponse: (status: number, onBody: (f: (text: string) => void) => void) => void,
  onError: (err: Error) => void,
): void {
  const req = http.request(
    {
      agent: o.agent,
      host: o.api.hostname,
      port: o.api.port,
      path: "/v1/jobs",
      method: "POST",
      headers: {
        authorization: `Bearer ${o.token}`,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(o.body),
      },
    },
    (res) => {
      let text = "";
      let done: ((text: string) => void) | null = null;
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => done?.(text));
      res.on("error", () => undefined);
      onResponse(res.statusCode ?? 0, (f) => (done = f));
    },
  );
  req.on("error", onError);
  req.end(o.body);
}
