import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The files esbuild puts in a browser bundle of `entry`. */
async function bundledFiles(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [`${ROOT}/${entry}`],
    bundle: true,
    write: false,
    metafile: true,
    format: "esm",
    platform: "browser",
    logLevel: "silent",
  });
  return Object.keys(result.metafile.inputs);
}

describe("mod.ts", () => {
  // The web page bundles the contracts through the client library. TypeBox (the schemas' runtime,
  // ~45 KB minified) must stay out of it: mod.ts exports the schemas' types, never the schemas.
  it("bundles for a browser without TypeBox, alone and through the client library", async () => {
    for (const entry of ["libs/contracts/mod.ts", "libs/client/mod.ts"]) {
      const files = await bundledFiles(entry);
      expect(files).toContain("libs/contracts/events.ts");
      expect(files.filter((f) => f.includes("typebox") || f.endsWith("contracts/schemas.ts"))).toEqual([]);
    }
  });
});
