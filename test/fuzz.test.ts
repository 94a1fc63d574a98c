import net from "node:net";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { JOBS_STREAM, RESULTS_STREAM } from "../libs/contracts/mod.ts";
import { createTokens } from "../libs/auth/mod.ts";
import { startStack, TEST_SECRET, type Stack, type TestNotifier } from "./helpers/stack.ts";

// Property-based fuzzing of herald's whole HTTP surface, over real HTTP on loopback: the API and one
// notifier on a real nats-server, no worker (so every message a request stores stays countable).
// Every generated request (well-formed HTTP with generated parts, or raw bytes on a socket) is sent
// on its own connection, one after another, and must get:
//   - an answer (no hang, no closed connection), never a 5xx;
//   - for any status >= 400, herald's JSON error `{ error: { code, message } }` (HEAD: the JSON
//     content type, without a body);
//   - for any status >= 400, nothing stored: the JOBS and RESULTS message counts are unchanged;
//   - an event stream that answers 200 starts with `retry:` (it is read that far, then dropped);
//   - an X-Request-Id answered only if it fits herald's pattern (libs/http/server.ts).
// After each property the server must still create a client (201), accept a job (202) and open
// an event stream (200). Explicit cases follow, then what the properties found, case by case.
//
// Replay a failure with FUZZ_SEED=<seed> FUZZ_PATH=<path> (both printed by fast-check);
// FUZZ_RUNS=<n> changes the number of runs of every property.

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const REPLAY = process.env.FUZZ_SEED
  ? { seed: Number(process.env.FUZZ_SEED), ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}) }
  : {};
/** A request that has no answer by then counts as a hang. */
const ANSWER_TIMEOUT_MS = 2_000;
const ONE_MIB = 1024 * 1024;
const UNKNOWN_JOB = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/** fc.assert options: a bounded run (shrinking included), so that a failure cannot take minutes. */
function runOptions(numRuns: number, timeLimitMs: number) {
  return { numRuns, ...REPLAY, plugins: [fc.interruptAfterTimeLimit(timeLimitMs)] };
}

type Client = Awaited<ReturnType<Stack["client"]>>;
let stack: Stack;
let notifier: TestNotifier;
let a: Client;
let b: Client;
let expiredA: string;
let foreignA: string;
const jobs = { queuedA: [] as string[], canceledA: "", ofB: "" };

beforeAll(async () => {
  stack = await startStack({ env: { RATE_LIMIT_JOBS: "0", RATE_LIMIT_CLIENTS: "0" } });
  notifier = await stack.addNotifier();
  a = await stack.client();
  b = await stack.client();
  expiredA = (await createTokens([TEST_SECRET], 60_000).mint(a.clientId, -120_000)).token;
  foreignA = (await createTokens(["another-secret-that-is-at-least-32-bytes"], 60_000).mint(a.clientId)).token;
  for (let i = 0; i < 3; i++) jobs.queuedA.push((await stack.submit(a.auth, "echo", { i })).jobId);
  jobs.canceledA = (await stack.submit(a.auth, "sleep", { ms: 10 })).jobId;
  const cancel = await stack.http(`/v1/jobs/${jobs.canceledA}`, { method: "DELETE", headers: a.auth });
  if (cancel.status !== 202) throw new Error(`setup: cancel answered ${cancel.status}`);
  jobs.ofB = (await stack.submit(b.auth, "echo", "b's")).jobId;
});
afterAll(async () => stack?.close());

// ---------------------------------------------------------------------------------------------
// What is generated: compact descriptions, turned into bytes only when sent (real tokens and job
// ids exist only at run time, and a counterexample stays readable).

type JobRef = "queuedA" | "canceledA" | "ofB" | "unknown" | "lowercase" | "badFirstChar" | "short";
/** A piece of text: generated, a long repetition, or a job id of the fixtures. */
type Text = string | { repeat: string; times: number } | { job: JobRef };
/** component: encodeURIComponent; raw: printable ASCII as it is (so `%` stays literal), the rest escaped; double: encoded twice. */
type Enc = "component" | "raw" | "double";
interface Seg {
  text: Text;
  enc: Enc;
}
type Route =
  | { r: "clients" }
  | { r: "jobs" }
  | { r: "events" }
  | { r: "job"; id: Seg }
  | { r: "jobEvents"; id: Seg }
  | { r: "random"; segs: Seg[] }
  | { r: "other"; path: string };
type Via = "bearer" | "lowercase-bearer" | "query" | "cookie";
type Auth =
  | { kind: "none" }
  | { kind: "header"; value: Text } // any Authorization header
  | { kind: "bearer"; token: Text } // Bearer <random>
  | { kind: "cookie"; value: Text } // herald_token=<random>
  | { kind: "token"; of: "a" | "b" | "expired" | "foreign"; via: Via };
interface Headers {
  contentType?: Text;
  accept?: Text;
  lastEventId?: Text;
  idempotencyKey?: Text;
  origin?: Text;
  secFetchSite?: string;
  requestId?: Text;
  extra?: [string, Text][];
}
type JsonValue = unknown;
type Body =
  | { kind: "none" }
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "text"; text: string }
  | { kind: "json"; value: JsonValue }
  | { kind: "job"; type: string; payload?: JsonValue; extra?: Record<string, JsonValue> }
  | { kind: "literal"; text: string }
  | { kind: "nested"; depth: number; open: "[" | "{"; where: "body" | "payload" }
  | { kind: "big"; over: number; shape: "json" | "bytes" }
  | { kind: "escapes"; n: number }
  | { kind: "badUtf8Job"; bytes: Uint8Array };
interface Req {
  target: "api" | "notifier";
  method: string;
  route: Route;
  suffix: "" | "/" | "/x" | "//" | "upper";
  query: [Text, Text, Enc][];
  auth: Auth;
  headers: Headers;
  body: Body;
}

/** `arb` now and then (1 time in 1 + absentWeight), else absent: most requests keep most parts sane, so they get deep. */
function sometimes<T>(arb: fc.Arbitrary<T>, absentWeight = 3): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: absentWeight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}
/** Drops the absent keys: a counterexample shows only what was sent. */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const jobRef = fc.constantFrom<JobRef>(
  "queuedA",
  "queuedA",
  "canceledA",
  "ofB",
  "unknown",
  "lowercase",
  "badFirstChar",
  "short",
);
const specialText = fc.constantFrom(
  ".",
  "..",
  "*",
  ">",
  " ",
  "%00",
  "%",
  "%zz",
  "%E0%A4%A",
  "%2F",
  "%2e%2e",
  "a.b.>",
  "*.*",
  "\u0000",
  "é",
  "🦄",
  "\u202e",
  "\ufeff",
  "..%2f..",
  "~",
  ";",
  "?",
  "#",
  "&",
  "=",
  "v1",
  "jobs",
  "events",
  "clients",
  "null",
  "[]",
  "{}",
);
const longText = fc.record({
  repeat: fc.constantFrom("a", "é", "%", ".", "0", " "),
  times: fc.integer({ min: 90, max: 20_000 }),
});
const textArb: fc.Arbitrary<Text> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 4, arbitrary: specialText },
  { weight: 1, arbitrary: longText },
);
const encArb = fc.constantFrom<Enc>("component", "component", "raw", "double");
const segArb: fc.Arbitrary<Seg> = fc.record({ text: textArb, enc: encArb });
const idSegArb: fc.Arbitrary<Seg> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ text: fc.record({ job: jobRef }), enc: fc.constant<Enc>("component") }) },
  { weight: 1, arbitrary: segArb },
);
/** herald's other routes (identity, job types, operations, the OpenAPI page), and paths near them. */
const OTHER_PATHS = [
  "/v1/clients/me",
  "/v1/job-types",
  "/healthz",
  "/readyz",
  "/metrics",
  "/docs",
  "/docs/",
  "/docs/json",
  "/docs/yaml",
  "/docs/static/index.html",
  "/docs/static/nope.js",
  "/docs/static/%2e%2e/%2e%2e/package.json",
  "/docs/static/..%2f..%2fpackage.json",
  "/docs/..%2f..%2fpackage.json",
  "/metrics/x",
  "/healthz?x=%zz",
];
const routeArb: fc.Arbitrary<Route> = fc.oneof(
  fc.constant<Route>({ r: "clients" }),
  fc.constant<Route>({ r: "jobs" }),
  fc.constant<Route>({ r: "events" }),
  fc.record({ r: fc.constant("job" as const), id: idSegArb }),
  fc.record({ r: fc.constant("jobEvents" as const), id: idSegArb }),
  fc.record({ r: fc.constant("random" as const), segs: fc.array(segArb, { minLength: 0, maxLength: 4 }) }),
  fc.record({ r: fc.constant("other" as const), path: fc.constantFrom(...OTHER_PATHS) }),
);
const suffixArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Req["suffix"]>("") },
  { weight: 1, arbitrary: fc.constantFrom<Req["suffix"]>("/", "/x", "//", "upper") },
);
const methodArb = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom("GET", "POST", "DELETE") },
  { weight: 4, arbitrary: fc.constantFrom("PUT", "PATCH", "OPTIONS", "HEAD") },
  { weight: 1, arbitrary: fc.constantFrom("TRACE", "SEARCH", "PROPFIND", "QUERY", "MKCOL", "PURGE", "LOCK", "REPORT") },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z][A-Z_-]{0,11}$/) },
);
/** Any header value: printable, unicode (sent as UTF-8 bytes), controls (dropped where node would refuse them), long. */
const headerText: fc.Arbitrary<Text> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 20 }) },
  {
    weight: 1,
    arbitrary: fc.record({ repeat: fc.constantFrom("k", "é", " ", "="), times: fc.integer({ min: 100, max: 6_000 }) }),
  },
);
const authArb: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Auth>({ kind: "none" }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("header" as const), value: headerText }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("bearer" as const), token: headerText }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cookie" as const), value: headerText }) },
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant("token" as const),
      of: fc.constantFrom<"a" | "b" | "expired" | "foreign">("a", "a", "a", "a", "b", "expired", "foreign"),
      via: fc.constantFrom<Via>("bearer", "bearer", "bearer", "lowercase-bearer", "query", "cookie"),
    }),
  },
);
const headersArb: fc.Arbitrary<Headers> = fc
  .record({
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constant<Text>("application/json") },
      { weight: 4, arbitrary: fc.constant<Text | undefined>(undefined) },
      {
        weight: 3,
        arbitrary: fc.constantFrom<Text>(
          "application/json; charset=utf-8",
          "APPLICATION/JSON",
          "application/json; charset=latin1",
          "application/json;",
          "application/jsonx",
          "application/vnd.api+json",
          "application/json-patch+json",
          "text/plain",
          "text/plain; charset=utf-8",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
          "application/octet-stream",
          "text/event-stream",
          "",
          "*/*",
          " application/json",
          "application/json, text/plain",
          "json",
        ),
      },
      { weight: 1, arbitrary: headerText },
    ),
    accept: fc.oneof(
      { weight: 6, arbitrary: fc.constant<Text | undefined>(undefined) },
      {
        weight: 4,
        arbitrary: fc.constantFrom<Text>("text/event-stream", "*/*", "text/*", "text/event-stream, */*;q=0.1"),
      },
      { weight: 1, arbitrary: fc.constantFrom<Text>("application/json", "text/html", "text/event-stream;q=0", "") },
      { weight: 1, arbitrary: headerText },
    ),
    lastEventId: fc.oneof(
      { weight: 6, arbitrary: fc.constant<Text | undefined>(undefined) },
      {
        weight: 3,
        arbitrary: fc.oneof(
          fc.constantFrom<Text>("0", "1", "2", "3", "earliest", " 3 "),
          fc.nat().map((n): Text => String(n)),
        ),
      },
      {
        weight: 2,
        arbitrary: fc.constantFrom<Text>(
          "-1",
          "1.5",
          "1e3",
          "99999999999999999999",
          "9007199254740993",
          "0x10",
          "EARLIEST",
          "",
        ),
      },
      { weight: 1, arbitrary: headerText },
    ),
    idempotencyKey: fc.oneof(
      { weight: 5, arbitrary: fc.constant<Text | undefined>(undefined) },
      {
        weight: 3,
        arbitrary: fc.oneof(
          fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 20 }),
          fc.constantFrom("same-key", "k".repeat(255)),
        ),
      },
      { weight: 1, arbitrary: fc.constantFrom<Text>("", " ", "k".repeat(256), "ключ", "a b") },
      { weight: 1, arbitrary: headerText },
    ),
    origin: sometimes(
      fc.oneof(fc.constantFrom<Text>("own", "http://evil.example", "null", "http://127.0.0.1"), headerText),
      8,
    ),
    secFetchSite: sometimes(fc.constantFrom("cross-site", "same-origin", "same-site", "none"), 8),
    requestId: sometimes(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/), headerText), 8),
    extra: sometimes(
      fc.array(fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,12}$/), headerText), { minLength: 1, maxLength: 2 }),
      8,
    ),
  })
  .map(defined);
const jobTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("echo", "sleep", "sha256", "fail", "flaky") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      "jobs.>",
      "ECHO",
      "echo ",
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "a".repeat(64),
      "a".repeat(65),
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 70 }) },
);
const odd = fc.oneof(
  fc.double(),
  fc.string({ maxLength: 10 }),
  fc.constant(null),
  fc.boolean(),
  fc.constant(-1),
  fc.constant(1.5),
  fc.constant(1e300),
);
// Shaped like the built-in types' payloads, in and out of their bounds.
const shaped = {
  sleep: fc.record(
    {
      ms: fc.oneof(fc.integer({ min: -5, max: 3_600_005 }), odd),
      steps: fc.oneof(fc.integer({ min: 0, max: 1_001 }), odd),
    },
    { requiredKeys: ["ms"] },
  ),
  sha256: fc.record(
    {
      data: fc.oneof(fc.string({ maxLength: 30 }), odd),
      rounds: fc.oneof(fc.integer({ min: 0, max: 50_000_001 }), odd),
    },
    { requiredKeys: ["data"] },
  ),
  fail: fc.record({ message: fc.oneof(fc.string({ maxLength: 30 }), odd) }, { requiredKeys: [] }),
  flaky: fc.record({ failTimes: fc.oneof(fc.integer({ min: -1, max: 101 }), odd) }),
};
const payloadArb: fc.Arbitrary<JsonValue> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  ...Object.values(shaped).map((arbitrary) => ({ weight: 1, arbitrary: arbitrary as fc.Arbitrary<JsonValue> })),
);
/** A built-in type with a payload shaped for it (mostly valid). */
const typedJobArb: fc.Arbitrary<Body> = fc.oneof(
  fc.record({ kind: fc.constant("job" as const), type: fc.constant("echo"), payload: fc.jsonValue({ maxDepth: 4 }) }),
  ...Object.entries(shaped).map(([type, payload]) =>
    fc.record({
      kind: fc.constant("job" as const),
      type: fc.constant(type),
      payload: payload as fc.Arbitrary<JsonValue>,
    }),
  ),
);
const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Body>({ kind: "none" }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("bytes" as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("text" as const), text: fc.string({ unit: "grapheme", maxLength: 60 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("json" as const), value: fc.jsonValue({ maxDepth: 4 }) }) },
  {
    weight: 12,
    arbitrary: fc
      .record({
        kind: fc.constant("job" as const),
        type: jobTypeArb,
        payload: sometimes(payloadArb, 1),
        extra: sometimes(
          fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 2 }),
          5,
        ),
      })
      .map(defined),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("literal" as const),
      text: fc.constantFrom(
        '{"type":"echo","payload":{"__proto__":{"polluted":1}}}',
        '{"__proto__":{"type":"echo"}}',
        '{"type":"echo","payload":{"constructor":{"prototype":{"polluted":1}}}}',
        '{"type":"echo","type":"sleep","payload":{}}',
        '{"type":"echo","payload":1e999}',
        '{"type":"echo","payload":"\\ud800"}',
        '{"type":"echo"} trailing',
        '{"type":"echo"}\u0000',
        '\ufeff{"type":"echo"}',
        '{"type":["echo"]}',
        '{"type":{"toString":"echo"}}',
        "null",
        "",
        " ",
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("nested" as const),
      depth: fc.oneof(fc.constantFrom(63, 64, 65, 10_000), fc.integer({ min: 1, max: 20_000 })),
      open: fc.constantFrom<"[" | "{">("[", "{"),
      where: fc.constantFrom<"body" | "payload">("payload", "payload", "body"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("big" as const),
      over: fc.integer({ min: 1, max: 4096 }),
      shape: fc.constantFrom<"json" | "bytes">("json", "bytes"),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("escapes" as const), n: fc.integer({ min: 1, max: 200_000 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("badUtf8Job" as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8, min: 0x80 }),
    }),
  },
);

function reqArb(o: {
  target: fc.Arbitrary<Req["target"]>;
  method?: fc.Arbitrary<string>;
  route?: fc.Arbitrary<Route>;
}): fc.Arbitrary<Req> {
  return fc.record({
    target: o.target,
    method: o.method ?? methodArb,
    route: o.route ?? routeArb,
    suffix: suffixArb,
    query: fc.oneof(
      { weight: 4, arbitrary: fc.constant<[Text, Text, Enc][]>([]) },
      {
        weight: 1,
        arbitrary: fc.array(
          fc.tuple(fc.oneof(fc.constantFrom<Text>("access_token", "lastEventId", "x", ""), textArb), textArb, encArb),
          {
            minLength: 1,
            maxLength: 2,
          },
        ),
      },
    ),
    auth: authArb,
    headers: headersArb,
    body: bodyArb,
  });
}

/** A's token, mostly as a Bearer header: requests that get past authentication. */
const realAuthArb: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Auth>({ kind: "token", of: "a", via: "bearer" }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("token" as const),
      of: fc.constant("a" as const),
      via: fc.constantFrom<Via>("lowercase-bearer", "query", "cookie"),
    }),
  },
  { weight: 1, arbitrary: authArb },
);
const noQuery = fc.constant<[Text, Text, Enc][]>([]);

/** Near-valid job submissions (and job reads/cancels): mostly well-formed, one or two parts off, so they reach the job code. */
const nearValidJobReqArb: fc.Arbitrary<Req> = fc.record({
  target: fc.constant<Req["target"]>("api"),
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constant("POST") },
    { weight: 1, arbitrary: fc.constantFrom("GET", "DELETE") },
  ),
  route: fc.oneof(
    { weight: 8, arbitrary: fc.constant<Route>({ r: "jobs" }) },
    { weight: 1, arbitrary: fc.record({ r: fc.constant("job" as const), id: idSegArb }) },
  ),
  suffix: fc.constant<Req["suffix"]>(""),
  query: noQuery,
  auth: realAuthArb,
  headers: fc
    .record({
      contentType: fc.oneof(
        { weight: 10, arbitrary: fc.constant<Text>("application/json") },
        { weight: 1, arbitrary: fc.constantFrom<Text>("application/json; charset=utf-8", "text/plain", "") },
      ),
      idempotencyKey: fc.oneof(
        { weight: 4, arbitrary: fc.constant<Text | undefined>(undefined) },
        { weight: 2, arbitrary: fc.constantFrom<Text>("same-key", "other-key", "k".repeat(255)) },
        { weight: 1, arbitrary: headerText },
      ),
    })
    .map(defined),
  body: fc.oneof(
    { weight: 4, arbitrary: typedJobArb },
    {
      weight: 4,
      arbitrary: fc
        .record({ kind: fc.constant("job" as const), type: jobTypeArb, payload: sometimes(payloadArb, 1) })
        .map(defined) as fc.Arbitrary<Body>,
    },
    { weight: 1, arbitrary: bodyArb },
  ),
});

/** Near-valid event stream requests: A's token, a real job, a resume point now and then. */
const nearValidStreamReqArb: fc.Arbitrary<Req> = fc.record({
  target: fc.constant<Req["target"]>("notifier"),
  method: fc.constant("GET"),
  route: fc.oneof(
    { weight: 1, arbitrary: fc.constant<Route>({ r: "events" }) },
    { weight: 2, arbitrary: fc.record({ r: fc.constant("jobEvents" as const), id: idSegArb }) },
  ),
  suffix: fc.constant<Req["suffix"]>(""),
  query: fc.oneof(
    { weight: 4, arbitrary: noQuery },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constant<Text>("lastEventId"),
          fc.oneof(fc.constantFrom<Text>("earliest", "0", "1", "-1", "x"), textArb),
          encArb,
        )
        .map((q) => [q]),
    },
  ),
  auth: realAuthArb,
  headers: fc
    .record({
      accept: fc.oneof(
        { weight: 4, arbitrary: fc.constant<Text | undefined>(undefined) },
        { weight: 4, arbitrary: fc.constant<Text>("text/event-stream") },
        { weight: 1, arbitrary: headerText },
      ),
      lastEventId: fc.oneof(
        { weight: 4, arbitrary: fc.constant<Text | undefined>(undefined) },
        {
          weight: 3,
          arbitrary: fc.oneof(
            fc.constantFrom<Text>("earliest", "0", "1", "2", "3", "4", "5", "6", " 7 "),
            fc.nat({ max: 100_000 }).map((n): Text => String(n)),
          ),
        },
        { weight: 1, arbitrary: headerText },
      ),
    })
    .map(defined),
  body: fc.constant<Body>({ kind: "none" }),
});

// ---------------------------------------------------------------------------------------------
// Turning a description into a request.

function jobId(ref: JobRef): string {
  switch (ref) {
    case "queuedA": // A's latest job: queued, until a fuzzed DELETE cancels it
      return jobs.queuedA[jobs.queuedA.length - 1]!;
    case "canceledA":
      return jobs.canceledA;
    case "ofB":
      return jobs.ofB;
    case "unknown":
      return UNKNOWN_JOB;
    case "lowercase":
      return jobs.queuedA[0]!.toLowerCase();
    case "badFirstChar":
      return `8${UNKNOWN_JOB.slice(1)}`;
    case "short":
      return UNKNOWN_JOB.slice(1);
  }
}

function textOf(t: Text): string {
  if (typeof t === "string") return t;
  if ("job" in t) return jobId(t.job);
  return t.repeat.repeat(t.times);
}

/**
 * Printable ASCII as it is (so `%`, `?`, `#`, `&`, `/` stay literal: malformed escapes, extra
 * query parameters…), every other byte escaped. Raw spaces, controls and non-ASCII bytes in the
 * request line are the raw-socket property's business.
 */
function encodeRaw(s: string): string {
  let out = "";
  for (const byte of Buffer.from(s, "utf8")) {
    out +=
      byte > 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function encode(text: string, enc: Enc): string {
  try {
    if (enc === "raw") return encodeRaw(text);
    const once = encodeURIComponent(text);
    return enc === "double" ? encodeURIComponent(once) : once;
  } catch {
    return encodeRaw(text); // lone surrogates
  }
}

/** A header value as a well-formed request carries it: the text's UTF-8 bytes, minus controls (a CR or LF would end the line). */
function headerValue(t: Text): string {
  return Buffer.from(textOf(t), "utf8")
    .toString("latin1")
    .replace(/[^\t\x20-\x7e\x80-\xff]/g, "");
}

function tokenOf(of: "a" | "b" | "expired" | "foreign"): string {
  return of === "a" ? a.token : of === "b" ? b.token : of === "expired" ? expiredA : foreignA;
}

function bodyOf(body: Body): Buffer | undefined {
  switch (body.kind) {
    case "none":
      return undefined;
    case "bytes":
      return Buffer.from(body.bytes);
    case "text":
      return Buffer.from(body.text, "utf8");
    case "json":
      return Buffer.from(JSON.stringify(body.value) ?? "null", "utf8");
    case "job": {
      const obj: Record<string, unknown> = { ...body.extra, type: body.type };
      if ("payload" in body) obj.payload = body.payload;
      return Buffer.from(JSON.stringify(obj), "utf8");
    }
    case "literal":
      return Buffer.from(body.text, "utf8");
    case "nested": {
      const [open, close] = body.open === "[" ? ["[", "]"] : ['{"a":', "}"];
      const deep = `${open.repeat(body.depth)}${body.open === "[" ? "" : "1"}${close.repeat(body.depth)}`;
      return Buffer.from(body.where === "body" ? deep : `{"type":"echo","payload":${deep}}`, "utf8");
    }
    case "big": {
      const size = ONE_MIB + body.over;
      if (body.shape === "bytes") return Buffer.alloc(size, 0x61);
      const head = '{"type":"echo","payload":"';
      return Buffer.from(`${head}${"x".repeat(size - head.length - 2)}"}`, "utf8");
    }
    case "escapes":
      return Buffer.from(JSON.stringify({ type: "echo", payload: "\u0001".repeat(body.n) }), "utf8");
    case "badUtf8Job":
      return Buffer.concat([Buffer.from('{"type":"echo","payload":"'), Buffer.from(body.bytes), Buffer.from('"}')]);
  }
}

interface Wire {
  base: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

function toWire(req: Req): Wire {
  const base = req.target === "api" ? stack.url : notifier.url;
  const enc = (s: Seg) => encode(textOf(s.text), s.enc);
  let path: string;
  switch (req.route.r) {
    case "clients":
      path = "/v1/clients";
      break;
    case "jobs":
      path = "/v1/jobs";
      break;
    case "events":
      path = "/v1/events";
      break;
    case "job":
      path = `/v1/jobs/${enc(req.route.id)}`;
      break;
    case "jobEvents":
      path = `/v1/jobs/${enc(req.route.id)}/events`;
      break;
    case "random":
      path = `/${req.route.segs.map(enc).join("/")}`;
      break;
    case "other":
      path = req.route.path;
      break;
  }
  if (req.suffix === "upper") path = path.toUpperCase();
  else path += req.suffix;

  const headers: Record<string, string> = {};
  const query = req.query.map(([k, v, e]) => `${encode(textOf(k), e)}=${encode(textOf(v), e)}`);
  const auth = req.auth;
  if (auth.kind === "header") headers.authorization = headerValue(auth.value);
  if (auth.kind === "bearer") headers.authorization = `Bearer ${headerValue(auth.token)}`;
  if (auth.kind === "cookie") headers.cookie = `herald_token=${headerValue(auth.value)}`;
  if (auth.kind === "token") {
    const token = tokenOf(auth.of);
    if (auth.via === "bearer") headers.authorization = `Bearer ${token}`;
    if (auth.via === "lowercase-bearer") headers.authorization = `bearer  ${token} `;
    if (auth.via === "cookie") headers.cookie = `herald_token=${token}`;
    if (auth.via === "query") query.unshift(`access_token=${token}`);
  }
  if (query.length) path += `?${query.join("&")}`;

  const h = req.headers;
  if (h.contentType !== undefined) headers["content-type"] = headerValue(h.contentType);
  if (h.accept !== undefined) headers.accept = headerValue(h.accept);
  if (h.lastEventId !== undefined) headers["last-event-id"] = headerValue(h.lastEventId);
  if (h.idempotencyKey !== undefined) headers["idempotency-key"] = headerValue(h.idempotencyKey);
  if (h.origin !== undefined) headers.origin = h.origin === "own" ? base : headerValue(h.origin);
  if (h.secFetchSite !== undefined) headers["sec-fetch-site"] = h.secFetchSite;
  if (h.requestId !== undefined) headers["x-request-id"] = headerValue(h.requestId);
  for (const [name, value] of h.extra ?? []) headers[name] = headerValue(value);

  const body = bodyOf(req.body);
  if (body) headers["content-length"] = String(body.length);
  return { base, method: req.method, path, headers, body };
}

// ---------------------------------------------------------------------------------------------
// Sending, and what every answer must be. Requests are written on a plain socket (one connection
// each) and the first final response is parsed here: no client library between herald and the
// test, none that refuses to send a request or to read an answer.

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const isEventStream = (status: number, contentType: unknown) =>
  status === 200 && String(contentType).startsWith("text/event-stream");

/**
 * The first final (non-1xx) response in `buf`, once complete; null while more is needed. An
 * event stream is complete with its first chunk, or (unframed) its first frame: it is then
 * dropped. A HEAD answer is complete with its head.
 */
function parseResponse(buf: Buffer, method: string, closed: boolean): Answer | null {
  let rest = buf;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const [statusLine, ...headerLines] = rest.subarray(0, end).toString("latin1").split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "");
    if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(rest.subarray(0, 200).toString("latin1"))}`);
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const i = line.indexOf(":");
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const body = rest.subarray(end + 4);
    if (status < 200) {
      rest = body; // 100 Continue
      continue;
    }
    const answer = (b: Buffer): Answer => ({ status, headers, body: b.toString("utf8") });
    if (method === "HEAD" || status === 204 || status === 304) return answer(Buffer.alloc(0));
    if (headers["content-length"] !== undefined) {
      const n = Number(headers["content-length"]);
      return body.length >= n ? answer(body.subarray(0, n)) : closed ? answer(body) : null;
    }
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
      const chunks: Buffer[] = [];
      for (let at = 0; ; ) {
        const lineEnd = body.indexOf("\r\n", at);
        if (lineEnd < 0) return closed ? answer(Buffer.concat(chunks)) : null;
        const size = parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
        if (!(size > 0)) return answer(Buffer.concat(chunks));
        if (body.length < lineEnd + 2 + size) return closed ? answer(Buffer.concat(chunks)) : null;
        chunks.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
        if (isEventStream(status, headers["content-type"])) return answer(Buffer.concat(chunks));
        at = lineEnd + 2 + size + 2;
      }
    }
    if (isEventStream(status, headers["content-type"])) {
      // Neither length nor chunks: delimited by the close (an HTTP/1.0 request, or one with no
      // version). Like a chunked stream, complete with its first frame: it may never close.
      const frameEnd = body.indexOf("\n\n");
      if (frameEnd >= 0) return answer(body.subarray(0, frameEnd + 2));
    }
    return closed ? answer(body) : null;
  }
}

/** Writes `bytes` on a new connection; resolves with the first final response (see parseResponse). */
function exchange(base: string, bytes: Buffer, method: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(base).port), "127.0.0.1");
    let buf = Buffer.alloc(0);
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy(); // never leave a stream open
      f();
    };
    const attempt = (closed: boolean) => {
      try {
        const answer = parseResponse(buf, method, closed);
        if (answer) settle(() => resolve(answer));
        else if (closed)
          settle(() =>
            reject(
              new Error(
                buf.length
                  ? `an incomplete response: ${JSON.stringify(buf.toString("latin1").slice(0, 300))}`
                  : "the connection was closed without any response",
              ),
            ),
          );
      } catch (err) {
        settle(() => reject(err));
      }
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            new Error(
              `no complete response within ${ANSWER_TIMEOUT_MS} ms (got ${JSON.stringify(buf.toString("latin1").slice(0, 300))})`,
            ),
          ),
        ),
      ANSWER_TIMEOUT_MS,
    );
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      attempt(false);
    });
    socket.on("close", () => attempt(true));
    socket.on("error", () => undefined); // e.g. a reset after a 413: "close" follows
    socket.write(bytes);
  });
}

/** A well-formed HTTP/1.1 request (what node:http would write), header values as latin1 bytes. */
function send(w: Wire): Promise<Answer> {
  const head = [`${w.method} ${w.path} HTTP/1.1`, `host: 127.0.0.1:${new URL(w.base).port}`, "connection: close"];
  for (const [name, value] of Object.entries(w.headers)) head.push(`${name}: ${value}`);
  const bytes = Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`, "latin1"), w.body ?? Buffer.alloc(0)]);
  return exchange(w.base, bytes, w.method);
}

async function storedCounts(): Promise<{ jobs: number; results: number }> {
  const [jobsInfo, resultsInfo] = [
    await stack.nats.jsm.streams.info(JOBS_STREAM),
    await stack.nats.jsm.streams.info(RESULTS_STREAM),
  ];
  return { jobs: jobsInfo.state.messages, results: resultsInfo.state.messages };
}

function parsed(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return `(not JSON) ${body.slice(0, 300)}`;
  }
}

/** libs/http/server.ts: an incoming X-Request-Id is kept only if it matches this; otherwise a ULID. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const HERALD_ERROR = { error: { code: expect.stringMatching(/^[a-z][a-z0-9_]*$/), message: expect.any(String) } };

/** What herald promises for any answer (see the top of the file). */
async function expectHeraldAnswer(
  what: string,
  method: string,
  answer: Answer,
  before: { jobs: number; results: number },
) {
  const ctx = `${what} → ${answer.status} ${answer.headers["content-type"] ?? "(no content-type)"} ${answer.body.slice(0, 300)}`;
  expect(answer.status, ctx).toBeLessThan(500);
  const requestId = answer.headers["x-request-id"];
  if (requestId !== undefined) expect(requestId, `${ctx}: the X-Request-Id answered`).toMatch(REQUEST_ID);
  if (answer.status >= 400) {
    expect(String(answer.headers["content-type"]), ctx).toMatch(/^application\/json/);
    if (method !== "HEAD") expect(parsed(answer.body), ctx).toEqual(HERALD_ERROR);
    expect(await storedCounts(), `${ctx}: a rejected request stored something`).toEqual(before);
  }
  if (method !== "HEAD" && isEventStream(answer.status, answer.headers["content-type"]))
    expect(answer.body, ctx).toMatch(/^retry: \d+\n/);
}

async function check(req: Req): Promise<void> {
  const w = toWire(req);
  const what = `${w.method} ${w.base}${w.path.length > 200 ? `${w.path.slice(0, 200)}…(${w.path.length})` : w.path}`;
  const before = await storedCounts();
  let answer: Answer;
  try {
    answer = await send(w);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
  await expectHeraldAnswer(what, w.method, answer, before);
  // A job this request queued for A can be the next one's target (then canceled, then 409…).
  if (answer.status === 202 && w.method === "POST" && w.headers.authorization === `Bearer ${a.token}`) {
    const jobIdOf = (parsed(answer.body) as { jobId?: unknown }).jobId;
    if (typeof jobIdOf === "string") jobs.queuedA.push(jobIdOf);
  }
}

/** The server still does its job: a new client (201), a job (202), an event stream (200). */
async function expectServing(): Promise<void> {
  const res = await stack.http("/v1/clients", { method: "POST" });
  expect(res.status).toBe(201);
  const { token } = (await res.json()) as { token: string };
  const job = await stack.http("/v1/jobs", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "echo", payload: { a: 1 } }),
  });
  expect(job.status).toBe(202);
  const ac = new AbortController();
  const stream = await fetch(`${notifier.url}/v1/events`, {
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
    signal: ac.signal,
  });
  expect(stream.status).toBe(200);
  ac.abort();
  await stream.body?.cancel().catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------

describe("fuzzed requests over HTTP", () => {
  afterEach(expectServing);

  it("API routes: POST /v1/clients, POST /v1/jobs, GET and DELETE /v1/jobs/:id", async () => {
    const apiRoute: fc.Arbitrary<Route> = fc.oneof(
      { weight: 2, arbitrary: fc.constant<Route>({ r: "clients" }) },
      { weight: 6, arbitrary: fc.constant<Route>({ r: "jobs" }) },
      { weight: 4, arbitrary: fc.record({ r: fc.constant("job" as const), id: idSegArb }) },
      { weight: 1, arbitrary: routeArb },
    );
    const method = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("POST", "GET", "DELETE") },
      { weight: 1, arbitrary: methodArb },
    );
    const anyApiReq = reqArb({ target: fc.constant("api"), method, route: apiRoute });
    await fc.assert(fc.asyncProperty(fc.oneof(nearValidJobReqArb, anyApiReq), check), runOptions(RUNS + 100, 12_000));
  }, 30_000);

  it("notifier routes: GET /v1/events and GET /v1/jobs/:id/events", async () => {
    const sseRoute: fc.Arbitrary<Route> = fc.oneof(
      { weight: 3, arbitrary: fc.constant<Route>({ r: "events" }) },
      { weight: 4, arbitrary: fc.record({ r: fc.constant("jobEvents" as const), id: idSegArb }) },
      { weight: 1, arbitrary: routeArb },
    );
    const method = fc.oneof({ weight: 8, arbitrary: fc.constant("GET") }, { weight: 2, arbitrary: methodArb });
    const anyNotifierReq = reqArb({ target: fc.constant("notifier"), method, route: sseRoute });
    await fc.assert(fc.asyncProperty(fc.oneof(nearValidStreamReqArb, anyNotifierReq), check), runOptions(RUNS, 10_000));
  }, 30_000);

  it("unknown paths and methods, on both servers", async () => {
    const target = fc.constantFrom<Req["target"]>("api", "notifier");
    await fc.assert(fc.asyncProperty(reqArb({ target }), check), runOptions(RUNS, 6_000));
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Raw requests over a socket: what no HTTP client library would send.

interface RawReq {
  target: "api" | "notifier";
  method: string;
  uri: Text;
  version: string;
  host: "ok" | "none" | "twice" | "empty";
  auth: boolean;
  lines: string[];
  framing: "none" | "length" | "chunked" | "bad-chunked" | "length-and-chunked" | "two-lengths" | "negative-length";
  body: Uint8Array;
  close: boolean;
}

const rawReqArb: fc.Arbitrary<RawReq> = fc.record({
  target: fc.constantFrom<RawReq["target"]>("api", "notifier"),
  method: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("GET", "POST", "DELETE", "HEAD", "OPTIONS", "PUT", "PATCH") },
    { weight: 1, arbitrary: fc.constantFrom("CONNECT", "TRACE", "get", "G ET", "QUERY", "PROPFIND", "BREW", "") },
    { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 8 }) },
  ),
  uri: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom<Text>(
        "/v1/clients",
        "/v1/jobs",
        "/v1/events",
        `/v1/jobs/${UNKNOWN_JOB}`,
        `/v1/jobs/${UNKNOWN_JOB}/events`,
        "*",
        "/",
        "http://127.0.0.1/v1/jobs",
        "//v1/jobs",
        "/v1/jobs/a b",
        "/%zz",
        "/v1/jobs/%00",
        "",
        "/v1/jobs?%",
        "/v1/jobs#x",
        ...OTHER_PATHS,
      ),
    },
    { weight: 2, arbitrary: fc.record({ job: jobRef }).map((j): Text => j) },
    { weight: 2, arbitrary: textArb },
  ),
  version: fc.constantFrom(
    "HTTP/1.1",
    "HTTP/1.1",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/2.0",
    "HTTP/1.2",
    "http/1.1",
    "HTTP/1",
    "",
    "HTTP/1.1 ",
    "HTTP/9.9",
  ),
  host: fc.constantFrom<RawReq["host"]>("ok", "ok", "ok", "none", "twice", "empty"),
  auth: fc.boolean(),
  lines: fc.array(
    fc.oneof(
      fc
        .tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), fc.string({ unit: "binary-ascii", maxLength: 30 }))
        .map(([n, v]) => `${n}: ${v}`),
      fc.constantFrom(
        "no colon here",
        ": empty-name",
        " leading-space: x",
        "X-A : b",
        "X-Folded: a\r\n  b",
        "Expect: 100-continue",
        "Expect: nonsense",
        "Content-Type: application/json",
        "Content-Type: text/plain",
        "Accept: text/event-stream",
        "Accept: application/json",
        "Upgrade: websocket",
        "Connection: upgrade",
        "Transfer-Encoding: gzip",
        "Content-Length: abc",
        "Last-Event-ID: earliest",
        "Last-Event-ID: x",
        "Idempotency-Key: \u00ff\u00fe",
        "Cookie: herald_token=%E0%A4%A",
        "Authorization: Bearer",
        "X-Request-Id: ../../etc",
      ),
      fc.string({ unit: "binary", maxLength: 30 }),
    ),
    { maxLength: 4 },
  ),
  framing: fc.constantFrom<RawReq["framing"]>(
    "none",
    "length",
    "length",
    "chunked",
    "bad-chunked",
    "length-and-chunked",
    "two-lengths",
    "negative-length",
  ),
  body: fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc
      .constantFrom('{"type":"echo","payload":1}', '{"type":"nope"}', "{", "GARBAGE\r\n\r\n")
      .map((s) => new Uint8Array(Buffer.from(s))),
  ),
  close: fc.boolean(),
});

function rawBytes(r: RawReq): Buffer {
  const uri = typeof r.uri === "object" && "job" in r.uri ? `/v1/jobs/${jobId(r.uri.job)}/events` : textOf(r.uri);
  const lines = [`${r.method} ${uri} ${r.version}`.replace(/ +$/, r.version.endsWith(" ") ? " " : "")];
  if (r.host === "ok" || r.host === "twice") lines.push("Host: 127.0.0.1");
  if (r.host === "twice") lines.push("Host: 127.0.0.2");
  if (r.host === "empty") lines.push("Host:");
  if (r.auth) lines.push(`Authorization: Bearer ${a.token}`);
  lines.push(...r.lines);
  if (r.close) lines.push("Connection: close");
  const body = Buffer.from(r.body);
  let payload = body;
  switch (r.framing) {
    case "length":
      lines.push(`Content-Length: ${body.length}`);
      break;
    case "chunked":
      lines.push("Transfer-Encoding: chunked");
      payload = Buffer.concat([
        Buffer.from(body.length ? `${body.length.toString(16)}\r\n` : ""),
        body,
        Buffer.from(body.length ? "\r\n0\r\n\r\n" : "0\r\n\r\n"),
      ]);
      break;
    case "bad-chunked":
      lines.push("Transfer-Encoding: chunked");
      payload = Buffer.concat([Buffer.from("zz\r\n"), body, Buffer.from("\r\n0\r\n\r\n")]);
      break;
    case "length-and-chunked":
      lines.push(`Content-Length: ${body.length}`, "Transfer-Encoding: chunked");
      break;
    case "two-lengths":
      lines.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`);
      break;
    case "negative-length":
      lines.push("Content-Length: -1");
      break;
    case "none":
      break;
  }
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8"), payload]);
}

describe("fuzzed raw requests over a socket", () => {
  afterEach(expectServing);

  it("any request line, header lines and framing: an HTTP answer, a herald JSON error, nothing stored", async () => {
    await fc.assert(
      fc.asyncProperty(rawReqArb, async (r) => {
        const what = JSON.stringify(rawBytes(r).subarray(0, 300).toString("latin1"));
        const before = await storedCounts();
        let answer: Answer;
        try {
          answer = await exchange(r.target === "api" ? stack.url : notifier.url, rawBytes(r), r.method);
        } catch (err) {
          throw new Error(`${what}: ${(err as Error).message}`);
        }
        await expectHeraldAnswer(what, r.method, answer, before);
      }),
      runOptions(RUNS, 6_000),
    );
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Explicit cases.

describe("explicit cases", () => {
  it("headers over 16 KiB: 431 with herald's JSON error, on the API and on the notifier", async () => {
    for (const base of [stack.url, notifier.url]) {
      const res = await fetch(`${base}/v1/jobs`, {
        method: "POST",
        headers: { ...a.auth, "x-big": "a".repeat(17 * 1024) },
      });
      expect(res.status).toBe(431);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ error: { code: "headers_too_large", message: expect.any(String) } });
    }
  });

  it("a garbage request line over a socket: 400 with herald's JSON error, and the server keeps serving", async () => {
    const before = await storedCounts();
    const res = await exchange(stack.url, Buffer.from("GARBAGE\r\n\r\n"), "GARBAGE");
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual({ error: { code: "bad_request", message: expect.any(String) } });
    expect(await storedCounts()).toEqual(before);
    await expectServing();
  });

  it("a job's event stream asked for over HTTP/1.0 or with no version: 200, unframed, starting with retry:", async () => {
    const jobId = jobs.queuedA[0]!;
    for (const version of [" HTTP/1.0", ""]) {
      const req = `GET /v1/jobs/${jobId}/events${version}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${a.token}\r\nConnection: close\r\n\r\n`;
      const res = await exchange(notifier.url, Buffer.from(req), "GET");
      expect(res.status, version).toBe(200);
      expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
      expect(res.headers["transfer-encoding"]).toBeUndefined();
      expect(res.body).toMatch(/^retry: \d+\n\n$/);
    }
    await expectServing();
  });

  it("a 10,000-level nested payload: a 400 JSON error, nothing stored, and the server keeps serving", async () => {
    const deep = "[".repeat(10_000) + "]".repeat(10_000);
    const before = await storedCounts();
    for (const body of [
      `{"type":"echo","payload":${deep}}`,
      `{"type":"echo","payload":${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}`,
      deep,
    ]) {
      const res = await stack.http("/v1/jobs", {
        method: "POST",
        headers: { ...a.auth, "content-type": "application/json" },
        body,
      });
      expect(res.status, body.slice(0, 40)).toBe(400);
      const err = (await res.json()) as { error: { code: string; message: string } };
      expect(err, body.slice(0, 40)).toEqual({ error: { code: expect.any(String), message: expect.any(String) } });
      expect(["payload_too_deep", "invalid_json", "invalid_input"]).toContain(err.error.code);
    }
    expect(await storedCounts()).toEqual(before);
    await expectServing();
  });

  it("a body just over 1 MiB: 413 payload_too_large, nothing stored", async () => {
    const before = await storedCounts();
    const head = '{"type":"echo","payload":"';
    const body = `${head}${"x".repeat(ONE_MIB + 1 - head.length - 2)}"}`;
    const res = await stack.http("/v1/jobs", {
      method: "POST",
      headers: { ...a.auth, "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: "payload_too_large", message: expect.any(String) } });
    expect(await storedCounts()).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------
// What the properties found, each on its own (minimal counterexamples). These fail until herald
// is fixed; the report with the fuzz test says where each comes from.

describe("found by the properties", () => {
  it("an X-Request-Id that herald's pattern refuses is not echoed back", async () => {
    const res = await stack.http("/v1/jobs/x", { headers: { "x-request-id": "<script>alert(1)</script>" } });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-request-id")).toMatch(REQUEST_ID);
  });

  it("an event stream refused for its Accept header answers herald's JSON error", async () => {
    const res = await fetch(`${notifier.url}/v1/events`, { headers: { ...a.auth, accept: "application/json" } });
    expect(res.status).toBe(406);
    expect(await res.json()).toEqual(HERALD_ERROR);
  });

  it.each([
    ["a malformed escape", "/v1/jobs/%zz"],
    ["a job id over Fastify's 100-character parameter limit", `/v1/jobs/${"a".repeat(101)}`],
  ])("%s in the path answers herald's JSON error", async (_what, path) => {
    const res = await stack.http(path, { headers: a.auth });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await res.json()).toEqual(HERALD_ERROR);
  });

  it("HEAD on an event stream route is answered", async () => {
    for (const path of ["/v1/events", `/v1/jobs/${jobs.queuedA[0]}/events`]) {
      const head = `HEAD ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${a.token}\r\naccept: text/event-stream\r\nconnection: close\r\n\r\n`;
      // Rejects ("no complete response within …") when the answer never comes.
      const res = await exchange(notifier.url, Buffer.from(head), "HEAD");
      expect(res.status, path).toBe(200);
    }
  });

  it.each([
    ["no Host header", "GET /v1/jobs/x HTTP/1.1\r\n\r\n"],
    [
      "an unknown Expect",
      "POST /v1/clients HTTP/1.1\r\nhost: 127.0.0.1\r\nexpect: nonsense\r\ncontent-length: 0\r\n\r\n",
    ],
    ["CONNECT", "CONNECT /v1/jobs HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"],
  ])("%s: herald's JSON error, like any other malformed request", async (_what, raw) => {
    // Rejects ("closed without any response") when there is no answer at all.
    const answer = await exchange(stack.url, Buffer.from(raw), raw.split(" ")[0]!);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(parsed(answer.body), `${answer.status} ${JSON.stringify(answer.headers)}`).toEqual(HERALD_ERROR);
  });
});
