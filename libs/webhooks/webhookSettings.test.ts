import { afterAll, beforeAll, expect, it } from "vitest";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { newId } from "../ids/mod.ts";
import { activeSecrets, readWebhookSecrets, rotateWebhookSecret } from "./webhookSettings.ts";

let nats: ProvisionedNats;
beforeAll(async () => {
  nats = await startProvisionedNats("webhook-settings-test");
});
afterAll(() => nats?.close());

it("rotations at the same moment all succeed, and the secret kept is one of theirs, with its predecessor in grace", async () => {
  const clientId = newId();
  const first = await rotateWebhookSecret(nats.webhookConfig, clientId, 60_000);
  const rotated = await Promise.all(
    Array.from({ length: 6 }, () => rotateWebhookSecret(nats.webhookConfig, clientId, 60_000)),
  );
  expect(new Set(rotated).size).toBe(6);
  const stored = (await readWebhookSecrets(nats.webhookConfig, clientId))!;
  expect(rotated).toContain(stored.current);
  expect([first, ...rotated]).toContain(stored.previous);
  expect(activeSecrets(stored)).toEqual([stored.current, stored.previous]);
  // Past its grace the previous secret no longer signs.
  expect(activeSecrets(stored, Date.parse(stored.previousUntil!) + 1)).toEqual([stored.current]);
});
