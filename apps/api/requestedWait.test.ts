import { describe, expect, it } from "vitest";
import { requestedWait } from "./requestedWait.ts";

describe("requestedWait", () => {
  it("takes ?wait= first, then Prefer: wait=, else none", () => {
    expect(requestedWait(5, undefined)).toEqual({ seconds: 5, preferred: false });
    expect(requestedWait(5, "wait=30")).toEqual({ seconds: 5, preferred: false });
    expect(requestedWait(undefined, "wait=30")).toEqual({ seconds: 30, preferred: true });
    expect(requestedWait(undefined, undefined)).toBeNull();
    expect(requestedWait(undefined, "respond-async")).toBeNull();
  });

  it("reads a Prefer wait among other preferences, quoted, with parameters, in any case", () => {
    expect(requestedWait(undefined, "respond-async, wait=10")?.seconds).toBe(10);
    expect(requestedWait(undefined, ["handling=lenient", 'Wait="7"'])?.seconds).toBe(7);
    expect(requestedWait(undefined, "wait=3; foo=bar")?.seconds).toBe(3);
  });

  it("caps a Prefer wait at 60 and ignores one it cannot read (a preference, not a demand)", () => {
    expect(requestedWait(undefined, "wait=600")).toEqual({ seconds: 60, preferred: true });
    for (const bad of ["wait=-1", "wait=soon", "wait=1.5", "wait=", "waiting=5"])
      expect(requestedWait(undefined, bad), bad).toBeNull();
  });
});
