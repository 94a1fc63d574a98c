// A webhook receiver that verifies herald's signatures with node:crypto only (Standard Webhooks).
// Run: HERALD_WEBHOOK_SECRET=whsec_… PORT=4000 node examples/webhook-receiver-crypto.mjs
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const key = Buffer.from(process.env.HERALD_WEBHOOK_SECRET.replace(/^whsec_/, ""), "base64");

function verify(body, headers) {
  const { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": signatures } = headers;
  const age = Math.abs(Date.now() / 1000 - Number(timestamp)); // NaN for a missing or malformed timestamp
  if (!id || !signatures || !(age <= 300)) return false;
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
  return signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    const given = Buffer.from(signature ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks); // the raw bytes: what herald signed
  if (!verify(body, req.headers)) return res.writeHead(401).end();
  const event = JSON.parse(body);
  console.log("verified", req.headers["webhook-id"], event.event, event.jobId);
  res.writeHead(204).end();
}).listen(process.env.PORT ?? 4000, "127.0.0.1");
