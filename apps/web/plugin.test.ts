import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { createLogger } from "../../libs/log/mod.ts";
import { WEB_PAGE_NOT_BUILT, webPlugin } from "./plugin.ts";

const dirs: string[] = [];
const apps: FastifyInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "herald-web-"));
  dirs.push(dir);
  return dir;
}

/** A server with only the web plugin, and the log lines it wrote. */
async function serve(opts: {
  dist: string;
  sources: string[];
}): Promise<{ app: FastifyInstance; logs: Array<{ level: number; msg: string }> }> {
  const logs: Array<{ level: number; msg: string }> = [];
  const log = createLogger({
    level: "info",
    destination: { write: (line: string) => void logs.push(JSON.parse(line)) },
  });
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger });
  apps.push(app);
  await app.register(webPlugin, opts);
  await app.ready();
  return { app, logs };
}

/** A built page in `dir`, written at `at` (seconds since the epoch). */
function writeBuiltPage(dir: string, at: number): void {
  writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>herald</title>");
  writeFileSync(path.join(dir, "app.js"), "console.log('herald')");
  for (const f of ["index.html", "app.js"]) utimesSync(path.join(dir, f), at, at);
}

function writeSource(dir: string, at: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "main.ts"), "export {}");
  utimesSync(path.join(dir, "main.ts"), at, at);
}

const WARN = 40;

describe("webPlugin", () => {
  it("without a built page: starts, warns, and answers / with what to run (it builds nothing)", async () => {
    const dist = path.join(tempDir(), "dist");
    const { app, logs } = await serve({ dist, sources: [] });
    expect(logs.filter((l) => l.level === WARN).map((l) => l.msg)).toEqual([WEB_PAGE_NOT_BUILT]);
    expect(WEB_PAGE_NOT_BUILT).toContain("npm run build");
    const res = await app.inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: { code: "web_page_not_built", message: WEB_PAGE_NOT_BUILT } });
    expect((await app.inject({ method: "GET", url: "/app.js" })).statusCode).toBe(404);
    // Nothing was built in its place.
    expect(existsSync(dist)).toBe(false);
  });

  it("serves the built page at /, without a warning when it is newer than its sources", async () => {
    const dir = tempDir();
    const dist = path.join(dir, "dist");
    mkdirSync(dist);
    writeSource(path.join(dir, "src"), 1_000_000);
    writeBuiltPage(dist, 2_000_000);
    const { app, logs } = await serve({ dist, sources: [path.join(dir, "src")] });
    expect(logs.filter((l) => l.level >= WARN)).toEqual([]);
    const page = await app.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toContain("<title>herald</title>");
    expect((await app.inject({ method: "GET", url: "/app.js" })).body).toBe("console.log('herald')");
  });

  it("serves a page older than its sources as it is, with a warning to rebuild", async () => {
    const dir = tempDir();
    const dist = path.join(dir, "dist");
    mkdirSync(dist);
    writeBuiltPage(dist, 1_000_000);
    writeSource(path.join(dir, "src"), 2_000_000);
    const { app, logs } = await serve({ dist, sources: [path.join(dir, "src")] });
    expect(logs.filter((l) => l.level === WARN).map((l) => l.msg)).toEqual([
      "the web page is older than its sources: run `npm run build` to serve the current one",
    ]);
    expect((await app.inject({ method: "GET", url: "/" })).statusCode).toBe(200);
  });
});
