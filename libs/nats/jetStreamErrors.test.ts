import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createLogger } from "../log/mod.ts";
import { startTestNats, type TestNats } from "../../test/helpers/nats.ts";
import { connectNats } from "./mod.ts";
import { isJetStreamError, JetStreamErrorCode } from "./jetStreamErrors.ts";

let server: TestNats;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startTestNats();
  nc = await connectNats({
    servers: [server.url],
    name: "jetstream-errors-test",
    log: createLogger({ level: "silent" }),
  });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "ONE", subjects: ["one.>"], max_msgs: 1, discard: DiscardPolicy.New });
});
afterAll(async () => {
  await nc?.close();
  await server?.close();
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (err: unknown) => err,
  );

describe("JetStreamErrorCode: each name is what the server answers", () => {
  it("STREAM_NOT_FOUND and CONSUMER_NOT_FOUND", async () => {
    const noStream = await failure(jsm.streams.info("NONE"));
    expect(isJetStreamError(noStream, JetStreamErrorCode.STREAM_NOT_FOUND)).toBe(true);
    const noConsumer = await failure(jsm.consumers.info("ONE", "none"));
    expect(isJetStreamError(noConsumer, JetStreamErrorCode.CONSUMER_NOT_FOUND)).toBe(true);
  });

  it("STREAM_NAME_IN_USE: a stream added again with other settings", async () => {
    const err = await failure(jsm.streams.add({ name: "ONE", subjects: ["other.>"] }));
    expect(isJetStreamError(err, JetStreamErrorCode.STREAM_NAME_IN_USE)).toBe(true);
  });

  it("CONSUMER_ALREADY_EXISTS: a durable consumer added again with other settings", async () => {
    await jsm.consumers.add("ONE", { durable_name: "twice", ack_policy: AckPolicy.Explicit, ack_wait: 10_000_000_000 });
    const err = await failure(
      jsm.consumers.add("ONE", { durable_name: "twice", ack_policy: AckPolicy.Explicit, ack_wait: 20_000_000_000 }),
    );
    expect(isJetStreamError(err, JetStreamErrorCode.CONSUMER_ALREADY_EXISTS)).toBe(true);
  });

  it("WRONG_LAST_SEQUENCE: a publish fenced on a sequence that is not the subject's last", async () => {
    await jsm.streams.purge("ONE");
    await js.publish("one.a", "first");
    const err = await failure(js.publish("one.a", "second", { expect: { lastSubjectSequence: 0 } }));
    expect(isJetStreamError(err, JetStreamErrorCode.WRONG_LAST_SEQUENCE)).toBe(true);
    expect(isJetStreamError(err, JetStreamErrorCode.MAXIMUM_MESSAGES_EXCEEDED)).toBe(false);
  });

  it("MAXIMUM_MESSAGES_EXCEEDED: a full stream that discards new messages", async () => {
    await jsm.streams.purge("ONE");
    await js.publish("one.a", "first");
    const err = await failure(js.publish("one.b", "second"));
    expect(isJetStreamError(err, JetStreamErrorCode.MAXIMUM_MESSAGES_EXCEEDED)).toBe(true);
  });

  it("is false for anything that is not the JetStream API's answer", () => {
    expect(isJetStreamError(new Error("10071"), JetStreamErrorCode.WRONG_LAST_SEQUENCE)).toBe(false);
    expect(isJetStreamError(null, JetStreamErrorCode.WRONG_LAST_SEQUENCE)).toBe(false);
  });
});
