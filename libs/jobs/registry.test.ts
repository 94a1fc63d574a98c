import { describe, expect, it } from "vitest";
import { createJobRegistry, defineJob, loadJobTypes, JobTypeDefinitionError, Type } from "./mod.ts";

describe("job registry", () => {
  it("has the built-in types and validates payloads against their schemas", () => {
    const r = createJobRegistry();
    expect(r.names()).toEqual(["echo", "sleep", "sha256", "fail", "flaky"]);
    const sleep = r.get("sleep")!;
    expect(r.validate(sleep, { ms: 10, steps: 2 })).toBeNull();
    expect(r.validate(sleep, { ms: -1 })).toMatch(/ms/);
    expect(r.validate(sleep, { ms: 10, nope: true })).toMatch(/additional/);
    expect(r.validate(r.get("echo")!, "anything")).toBeNull();
  });

  it("loads the types a WORKER_JOBS module exports", async () => {
    const extra = await loadJobTypes("examples/custom-jobs.ts");
    expect(extra.map((t) => t.name)).toEqual(["wordcount"]);
    const r = createJobRegistry(extra);
    expect(r.validate(r.get("wordcount")!, { text: "a b" })).toBeNull();
    expect(r.validate(r.get("wordcount")!, { txt: "a b" })).toMatch(/text/);
  });

  it("refuses a type whose name is not a subject token, or a name defined twice", () => {
    const bad = defineJob({ name: "a.b", schema: Type.Unknown(), run: async () => null });
    expect(() => createJobRegistry([bad])).toThrow(JobTypeDefinitionError);
    const twice = defineJob({ name: "echo", schema: Type.Unknown(), run: async () => null });
    expect(() => createJobRegistry([twice])).toThrow(/defined twice/);
  });

  it("reads a type's timeout, in milliseconds or as a duration, and refuses a bad one at start", () => {
    const type = (name: string, timeout?: number | string) =>
      defineJob({ name, schema: Type.Unknown(), run: async () => null, ...(timeout === undefined ? {} : { timeout }) });
    const r = createJobRegistry([type("ms", 1_500), type("text", "5m"), type("none")]);
    expect(r.timeoutMs(r.get("ms")!)).toBe(1_500);
    expect(r.timeoutMs(r.get("text")!)).toBe(300_000);
    expect(r.timeoutMs(r.get("none")!)).toBeNull();
    expect(r.timeoutMs(r.get("sleep")!)).toBeNull();
    for (const bad of [0, -5, "soon", "0s", "25d"]) {
      expect(() => createJobRegistry([type("bad", bad)]), String(bad)).toThrow(/timeout/);
    }
  });

  it("reads a type's concurrency cap and its lane, and refuses a bad cap at start", () => {
    const type = (name: string, concurrency?: number) =>
      defineJob({
        name,
        schema: Type.Unknown(),
        run: async () => null,
        ...(concurrency === undefined ? {} : { concurrency }),
      });
    const r = createJobRegistry([type("one", 1), type("many", 10_000), type("free")]);
    expect(r.concurrency("one")).toBe(1);
    expect(r.concurrency("many")).toBe(10_000);
    expect(r.concurrency("free")).toBeNull();
    expect(r.concurrency("nosuch")).toBeNull();
    expect([r.laneOf("one"), r.laneOf("free"), r.laneOf("echo"), r.laneOf("nosuch")]).toEqual([
      "capped",
      "shared",
      "shared",
      "shared",
    ]);
    expect(r.caps()).toEqual([
      { type: "one", concurrency: 1 },
      { type: "many", concurrency: 10_000 },
    ]);
    for (const bad of [0, -1, 1.5, 10_001, Number.NaN, "2" as unknown as number]) {
      expect(() => createJobRegistry([type("bad", bad)]), String(bad)).toThrow(/concurrency/);
    }
  });
});
