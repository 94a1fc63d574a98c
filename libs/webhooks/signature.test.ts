import { createHmac } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isWebhookSecret, newWebhookSecret, signWebhook, verifyWebhook, webhookHeaders } from "./signature.ts";

// `standardwebhooks` is the spec's reference implementation (a devDependency only): what it
// accepts is what receivers' Standard Webhooks libraries accept.

const body = JSON.stringify({
  type: "job.succeeded",
  data: { jobId: "01J9ZK3M8Y8Q2V7X5T4R6W1N0P", result: "héllo ✓" },
});
const id = "msg_01J9ZK3M8Y8Q2V7X5T4R6W1N0P";

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

afterEach(() => {
  vi.useRealTimers();
});

describe("signWebhook, checked by the standardwebhooks package", () => {
  it("signs with one secret in a way the package verifies", () => {
    const secret = newWebhookSecret();
    const headers = webhookHeaders({ id, timestamp: nowSeconds(), body, secrets: [secret] });
    expect(Object.keys(headers).sort()).toEqual(["webhook-id", "webhook-signature", "webhook-timestamp"]);
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it("during a rotation, sends two signatures, and a receiver with either secret accepts it", () => {
    const newer = newWebhookSecret();
    const older = newWebhookSecret();
    const headers = webhookHeaders({ id, timestamp: nowSeconds(), body, secrets: [newer, older] });
    const parts = headers["webhook-signature"]!.split(" ");
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(signWebhook({ id, timestamp: Number(headers["webhook-timestamp"]), body, secrets: [newer] }));
    expect(parts[1]).toBe(signWebhook({ id, timestamp: Number(headers["webhook-timestamp"]), body, secrets: [older] }));
    for (const secret of [newer, older]) {
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
      expect(verifyWebhook({ body, headers, secret })).toBe(true);
    }
    const stranger = newWebhookSecret();
    expect(() => new Webhook(stranger).verify(body, headers)).toThrow(WebhookVerificationError);
    expect(verifyWebhook({ body, headers, secret: stranger })).toBe(false);
  });

  it("is refused by the package, as by verifyWebhook, for a tampered body, a wrong secret or a stale timestamp", () => {
    const secret = newWebhookSecret();
    const fresh = webhookHeaders({ id, timestamp: nowSeconds(), body, secrets: [secret] });
    const tampered = body.replace("héllo", "hello");
    expect(() => new Webhook(secret).verify(tampered, fresh)).toThrow(WebhookVerificationError);
    expect(verifyWebhook({ body: tampered, headers: fresh, secret })).toBe(false);

    const other = newWebhookSecret();
    expect(() => new Webhook(other).verify(body, fresh)).toThrow(WebhookVerificationError);
    expect(verifyWebhook({ body, headers: fresh, secret: other })).toBe(false);

    for (const skew of [-400, 400]) {
      const off = webhookHeaders({ id, timestamp: nowSeconds() + skew, body, secrets: [secret] });
      expect(() => new Webhook(secret).verify(body, off)).toThrow(WebhookVerificationError);
      expect(verifyWebhook({ body, headers: off, secret })).toBe(false);
    }
  });

  it("agrees with the package on the edge of the 5-minute tolerance (clock pinned)", () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const secret = newWebhookSecret();
    const at = (timestamp: number) => webhookHeaders({ id, timestamp, body, secrets: [secret] });
    for (const timestamp of [1_700_000_000 - 300, 1_700_000_000 + 300]) {
      expect(new Webhook(secret).verify(body, at(timestamp))).toEqual(JSON.parse(body));
      expect(verifyWebhook({ body, headers: at(timestamp), secret })).toBe(true);
    }
    for (const timestamp of [1_700_000_000 - 301, 1_700_000_000 + 301]) {
      expect(() => new Webhook(secret).verify(body, at(timestamp))).toThrow(/too (old|new)/);
      expect(verifyWebhook({ body, headers: at(timestamp), secret })).toBe(false);
    }
  });
});

describe("verifyWebhook, on signatures made by the standardwebhooks package", () => {
  it("accepts the package's sign(msgId, date, payload)", () => {
    const secret = newWebhookSecret();
    const date = new Date();
    const headers = {
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(date.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, date, body),
    };
    expect(verifyWebhook({ body, headers, secret })).toBe(true);
    expect(headers["webhook-signature"]).toBe(
      signWebhook({ id, timestamp: Number(headers["webhook-timestamp"]), body, secrets: [secret] }),
    );
  });

  it("finds the matching signature among others, skipping versions it does not check", () => {
    const secret = newWebhookSecret();
    const timestamp = nowSeconds();
    const ours = signWebhook({ id, timestamp, body, secrets: [secret] });
    const foreign = signWebhook({ id, timestamp, body, secrets: [newWebhookSecret()] });
    const signature = `v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== ${foreign} garbage ${ours}`;
    const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
    expect(verifyWebhook({ body, headers, secret })).toBe(true);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });
});

describe("the signed content", () => {
  // A vector computed here, by hand, with node:crypto: it pins `<id>.<timestamp>.<body>`, the key
  // as the base64-decoded part after whsec_, and the `v1,<base64>` format.
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const vector = {
    id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
  };

  it("is HMAC-SHA256(base64-decoded key, `<id>.<timestamp>.<body>`)", () => {
    const key = Buffer.from("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "base64");
    const byHand = createHmac("sha256", key).update(`${vector.id}.${vector.timestamp}.${vector.body}`).digest("base64");
    const expected = `v1,${byHand}`;
    // The same vector as the reference libraries' own tests.
    expect(expected).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    expect(signWebhook({ ...vector, secrets: [secret] })).toBe(expected);
    expect(
      signWebhook({ ...vector, secrets: [secret, "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] }).startsWith(
        `${expected} v1,`,
      ),
    ).toBe(true);
    const headers = {
      "webhook-id": vector.id,
      "webhook-timestamp": String(vector.timestamp),
      "webhook-signature": expected,
    };
    expect(verifyWebhook({ body: vector.body, headers, secret, now: vector.timestamp + 10 })).toBe(true);
    expect(verifyWebhook({ body: vector.body, headers, secret, now: vector.timestamp + 301 })).toBe(false);
    expect(
      verifyWebhook({ body: vector.body, headers, secret, now: vector.timestamp + 301, toleranceSeconds: 301 }),
    ).toBe(true);
  });

  it("covers the id and the timestamp as well as the body", () => {
    const signature = signWebhook({ ...vector, secrets: [secret] });
    const headers = {
      "webhook-id": vector.id,
      "webhook-timestamp": String(vector.timestamp),
      "webhook-signature": signature,
    };
    const check = (h: Record<string, string>) =>
      verifyWebhook({ body: vector.body, headers: h, secret, now: vector.timestamp });
    expect(check(headers)).toBe(true);
    expect(check({ ...headers, "webhook-id": "msg_other" })).toBe(false);
    expect(check({ ...headers, "webhook-timestamp": String(vector.timestamp - 1) })).toBe(false);
    expect(verifyWebhook({ body: `${vector.body} `, headers, secret, now: vector.timestamp })).toBe(false);
  });
});

describe("verifyWebhook on malformed requests", () => {
  const secret = newWebhookSecret();
  const timestamp = 1_700_000_000;
  const good = webhookHeaders({ id, timestamp, body, secrets: [secret] });
  const check = (headers: Record<string, string | string[] | undefined>) =>
    verifyWebhook({ body, headers, secret, now: timestamp });

  it("matches header names case-insensitively, and takes node's req.headers shape", () => {
    expect(check(good)).toBe(true);
    expect(
      check({
        "Webhook-Id": good["webhook-id"],
        "WEBHOOK-TIMESTAMP": good["webhook-timestamp"],
        "Webhook-Signature": good["webhook-signature"],
        "set-cookie": ["a=b"],
      }),
    ).toBe(true);
  });

  it("is false, not a throw, whatever the sender puts in the headers", () => {
    const sig = good["webhook-signature"]!;
    const raw = sig.slice(3);
    for (const headers of [
      {},
      { ...good, "webhook-id": undefined },
      { ...good, "webhook-timestamp": undefined },
      { ...good, "webhook-signature": undefined },
      { ...good, "webhook-signature": "" },
      { ...good, "webhook-signature": raw },
      { ...good, "webhook-signature": `v2,${raw}` },
      { ...good, "webhook-signature": `v1a,${raw}` },
      { ...good, "webhook-signature": `v1,${raw.slice(0, -1)}` },
      { ...good, "webhook-signature": `v1,${raw}=` },
      { ...good, "webhook-signature": `v1,${Buffer.from(raw, "base64").toString("base64url")}` },
      { ...good, "webhook-signature": [sig, sig] },
      { ...good, "webhook-timestamp": `${timestamp}.5` },
      { ...good, "webhook-timestamp": `${timestamp}abc` },
      { ...good, "webhook-timestamp": `-${timestamp}` },
      { ...good, "webhook-timestamp": "" },
      { ...good, "webhook-timestamp": "9".repeat(400) },
      { ...good, "webhook-id": "" },
    ]) {
      expect(check(headers), JSON.stringify(headers)).toBe(false);
    }
  });
});

describe("secrets", () => {
  it("newWebhookSecret makes distinct whsec_ secrets of 32 random bytes, accepted by the package", () => {
    const secrets = Array.from({ length: 50 }, () => newWebhookSecret());
    expect(new Set(secrets).size).toBe(50);
    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(32);
      expect(isWebhookSecret(secret)).toBe(true);
      expect(() => new Webhook(secret)).not.toThrow();
    }
  });

  it("isWebhookSecret accepts 24 to 64 bytes of canonical base64 after whsec_, and nothing else", () => {
    const of = (n: number) => `whsec_${Buffer.alloc(n, 7).toString("base64")}`;
    expect(isWebhookSecret(of(24))).toBe(true);
    expect(isWebhookSecret(of(64))).toBe(true);
    expect(isWebhookSecret(of(25))).toBe(true); // padded with "=="
    const good = newWebhookSecret();
    for (const bad of [
      undefined,
      null,
      42,
      {},
      "",
      "whsec_",
      good.slice(6), // no prefix
      `WHSEC_${good.slice(6)}`,
      `whsk_${good.slice(6)}`,
      of(23),
      of(65),
      good.slice(0, -1), // padding dropped
      `${good.slice(0, 10)} ${good.slice(10)}`,
      `${good.slice(0, 10)}*${good.slice(10)}`,
      `whsec_${Buffer.alloc(32, 0xfb).toString("base64url")}`,
      `${good}\n`,
    ]) {
      expect(isWebhookSecret(bad), String(bad)).toBe(false);
    }
  });

  it("signWebhook and verifyWebhook throw a TypeError for a bad secret or no secret", () => {
    const timestamp = nowSeconds();
    const good = newWebhookSecret();
    expect(() => signWebhook({ id, timestamp, body, secrets: [] })).toThrow(TypeError);
    expect(() => signWebhook({ id, timestamp, body, secrets: [] })).toThrow(/at least one/);
    expect(() => signWebhook({ id, timestamp, body, secrets: [good, "hunter2"] })).toThrow(
      /secrets\[1\] is not a webhook secret/,
    );
    expect(() => webhookHeaders({ id, timestamp, body, secrets: ["whsec_short"] })).toThrow(TypeError);
    const headers = webhookHeaders({ id, timestamp, body, secrets: [good] });
    expect(() => verifyWebhook({ body, headers, secret: good.slice(6) })).toThrow(TypeError);
    expect(() => verifyWebhook({ body, headers, secret: good, toleranceSeconds: -1 })).toThrow(TypeError);
  });

  it("signWebhook refuses an id with a '.' and a timestamp that is not whole seconds", () => {
    const secrets = [newWebhookSecret()];
    for (const badId of ["", "msg.1", "msg 1", "msg\n1"]) {
      expect(() => signWebhook({ id: badId, timestamp: nowSeconds(), body, secrets }), badId).toThrow(TypeError);
    }
    for (const badTimestamp of [Date.now(), 1.5, -1, Number.NaN]) {
      expect(() => signWebhook({ id, timestamp: badTimestamp, body, secrets }), String(badTimestamp)).toThrow(
        /whole seconds/,
      );
    }
  });
});
