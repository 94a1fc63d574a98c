import type { ChildProcess } from "node:child_process";

/**
 * Children that must not outlive this process (a test file, the bench, `npm run stack`), with the
 * signal each gets when it exits. nats-servers run in a process group of their own (so that Ctrl-C
 * reaches herald first), so nothing else would stop them if this process ended without cleaning up.
 */
const guarded = new Map<ChildProcess, NodeJS.Signals>();
let hooked = false;

/**
 * Signals `child` (SIGKILL by default) if this process exits while the child still runs. nginx's
 * master wants SIGTERM: it then stops its workers, which a SIGKILLed master would leave behind.
 */
export function killOnExit(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void {
  if (!hooked) {
    hooked = true;
    // "exit" handlers run synchronously, also after process.exit(): kill() is synchronous too.
    process.once("exit", () => {
      for (const [c, s] of guarded) c.kill(s);
    });
  }
  if (child.exitCode !== null || child.signalCode !== null) return;
  guarded.set(child, signal);
  child.once("exit", () => guarded.delete(child));
}
