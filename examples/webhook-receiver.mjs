// A webhook receiver that verifies herald's signatures with the `standardwebhooks` package
// (npm install standardwebhooks). Run: HERALD_WEBHOOK_SECRET=whsec_… PORT=4000 node examples/webhook-receiver.mjs
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const webhook = new Webhook(process.env.HERALD_WEBHOOK_SECRET);

createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  try {
    // The raw body, exactly as received: parsing and re-serialising the JSON would break the signature.
    const event = webhook.verify(Buffer.concat(chunks), req.headers);
    console.log("verified", req.headers["webhook-id"], event.event, event.jobId);
    res.writeHead(204).end();
  } catch (err) {
    console.log("rejected:", err.message);
    res.writeHead(401).end();
  }
}).listen(process.env.PORT ?? 4000, "127.0.0.1");
