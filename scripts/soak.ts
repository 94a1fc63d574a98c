// `npm run test:soak`: the test suite run again and again on a loaded machine, to find flaky tests.
// Every core is kept busy by a spinning process (at normal priority, so the tests compete for
// CPU as on a busy CI host) while the suite runs; each run prints one summary line, and its full
// output is kept for the failures' root causes.
//
//   npm run test:soak                          # the suite 10 times, load on every core
//   npm run test:soak -- --runs=3 --faults     # also the fault suite, each run
//   npm run test:soak -- --load=0              # no load
//
// Exit status 1 if any run failed. The loops are bounded: --runs runs, each with vitest's own
// timeouts; the load stops with the script (and with its parent, if it is killed).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    load: { type: "string", default: String(availableParallelism()) },
    faults: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
const runs = Number(args.runs);
const load = Number(args.load);
if (!Number.isInteger(runs) || runs < 1 || runs > 1000)
  throw new Error(`--runs=${args.runs}: a whole number from 1 to 1000`);
if (!Number.isInteger(load) || load < 0 || load > 64)
  throw new Error(`--load=${args.load}: a whole number of spinning processes, 0 to 64`);
const outDir = args.out ?? mkdtempSync(path.join(tmpdir(), "herald-soak-"));

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  testResults: {
    name: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
    message?: string;
  }[];
}

interface RunResult {
  ok: boolean;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
  failures: string[];
}

/** A process that spins one core until it is killed; it also exits if its parent goes away. */
function spinner(): ChildProcess {
  const code =
    "const p = process.ppid; let i = 0; for (;;) { if (++i % 1e8 === 0 && process.ppid !== p) process.exit(0); }";
  return spawn(process.execPath, ["-e", code], { stdio: "ignore" });
}

function runVitest(label: string, config: string | null): Promise<RunResult> {
  const json = path.join(outDir, `${label}.json`);
  const log = path.join(outDir, `${label}.log`);
  const argv = ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${json}`];
  if (config) argv.push("--config", config);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn("npx", argv, {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FORCE_COLOR: "0" },
    });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => (output += c));
    child.stderr!.on("data", (c: Buffer) => (output += c));
    child.once("exit", (code) => {
      writeFileSync(log, output);
      const seconds = Math.round((Date.now() - started) / 100) / 10;
      let report: VitestJson | null = null;
      try {
        report = JSON.parse(readFileSync(json, "utf8")) as VitestJson;
      } catch {
        // no report: vitest itself failed (its output is in the log)
      }
      const failures = report?.testResults.flatMap((f) => [
        ...f.assertionResults
          .filter((a) => a.status === "failed")
          .map((a) => `${path.relative(ROOT, f.name)} > ${a.fullName}: ${a.failureMessages[0]?.split("\n")[0] ?? ""}`),
        ...(f.assertionResults.length === 0 && f.message
          ? [`${path.relative(ROOT, f.name)}: ${f.message.split("\n")[0]}`]
          : []),
      ]) ?? [`vitest exited ${code} without a report: see ${log}`];
      resolve({
        ok: code === 0,
        passed: report?.numPassedTests ?? 0,
        failed: report?.numFailedTests ?? 0,
        skipped: report?.numPendingTests ?? 0,
        seconds,
        failures,
      });
    });
  });
}

const spinners = Array.from({ length: load }, spinner);
const stopLoad = () => {
  for (const s of spinners) s.kill("SIGKILL");
};
process.once("exit", stopLoad);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => process.exit(130));

console.log(
  `soak: ${runs} run(s), ${load} spinning process(es) on ${availableParallelism()} core(s)${args.faults ? ", with the fault suite" : ""}; logs in ${outDir}`,
);
let failedRuns = 0;
for (let i = 1; i <= runs; i++) {
  const suites: [string, string | null][] = [[`run${i}-suite`, null]];
  if (args.faults) suites.push([`run${i}-faults`, "vitest.faults.config.ts"]);
  for (const [label, config] of suites) {
    const r = await runVitest(label, config);
    if (!r.ok) failedRuns++;
    console.log(
      `soak: ${label}: ${r.ok ? "ok" : "FAILED"} — ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped in ${r.seconds} s`,
    );
    for (const f of r.failures) console.log(`soak:   ✗ ${f}`);
  }
}
stopLoad();
console.log(
  `soak: ${runs - Math.min(runs, failedRuns)} of ${runs} run(s) passed${failedRuns ? ` (${failedRuns} failed suite run(s))` : ""}`,
);
process.exit(failedRuns ? 1 : 0);
