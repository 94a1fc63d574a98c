import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, readListJobsQuery } from "./listJobsQuery.ts";

const code = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return "none";
};

describe("readListJobsQuery", () => {
  it("defaults: every status and type, 50 jobs, from the newest", () => {
    expect(readListJobsQuery({})).toEqual({ statuses: null, type: null, limit: 50, before: null });
  });

  it("reads a comma-separated status list, a type, a limit and a cursor", () => {
    const q = readListJobsQuery({ status: "queued,running", type: "echo", limit: "200", cursor: encodeCursor(42) });
    expect([...(q.statuses ?? [])]).toEqual(["queued", "running"]);
    expect(q).toMatchObject({ type: "echo", limit: 200, before: 42 });
  });

  it("refuses unknown statuses, limits out of range and cursors it did not write, each with its code", () => {
    for (const status of ["done", "", "queued,", "queued,,running", "Queued", " queued"])
      expect(
        code(() => readListJobsQuery({ status })),
        status,
      ).toBe("invalid_status");
    for (const limit of ["0", "201", "-1", "1.5", "x", "", "1e2", 0, 201])
      expect(
        code(() => readListJobsQuery({ limit })),
        String(limit),
      ).toBe("invalid_limit");
    for (const cursor of ["", "abc", "MA", encodeCursor(0).replace(/=/g, ""), "NDI=", `${encodeCursor(42)}.`, "!!!!"])
      expect(
        code(() => readListJobsQuery({ cursor })),
        cursor,
      ).toBe("invalid_cursor");
  });
});

describe("cursors", () => {
  it("are opaque base64url ordinals that decode back, and nothing else decodes", () => {
    for (const n of [1, 9, 10, 12345, 2 ** 40]) expect(decodeCursor(encodeCursor(n))).toBe(n);
    expect(encodeCursor(42)).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(Buffer.from("042").toString("base64url"))).toBeNull();
    expect(decodeCursor(Buffer.from("-3").toString("base64url"))).toBeNull();
    expect(decodeCursor("MA")).toBeNull(); // "0"
  });
});
