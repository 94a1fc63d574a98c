/**
 * A forked load process driven over IPC (scenarios 4, 6 and 7): commands go in, typed replies come
 * back; `next(type)` waits for the next reply of a type. Stopped with a `close` command, then
 * SIGKILL if it lingers.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export class LoadProc<Cmd extends { type: string }, Reply extends { type: string }> {
  readonly child: ChildProcess;
  #name: string;
  #waiters: Array<{ type: Reply["type"]; resolve: (r: Reply) => void }> = [];
  readonly exited: Promise<void>;

  /** `script`: the module to fork (a URL next to the caller's); `advanced`: structured-clone IPC. */
  constructor(script: URL, index: number, env: Record<string, string>, o: { name: string; advanced?: boolean }) {
    this.#name = o.name;
    this.child = fork(fileURLToPath(script), [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, ...env, BENCH_LOAD_INDEX: String(index) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      ...(o.advanced ? { serialization: "advanced" as const } : {}),
    });
    this.exited = new Promise((r) => this.child.once("exit", () => r()));
    this.child.on("message", (m: Reply) => {
      const i = this.#waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
    });
  }

  next<T extends Reply["type"]>(type: T, timeoutMs = 120_000): Promise<Extract<Reply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.#name}: no "${type}" in ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        type,
        resolve: (r) => {
          clearTimeout(t);
          resolve(r as Extract<Reply, { type: T }>);
        },
      });
      void this.exited.then(() => reject(new Error(`${this.#name} exited while waiting for "${type}"`)));
    });
  }

  ask<T extends Reply["type"]>(cmd: Cmd, type: T, timeoutMs?: number): Promise<Extract<Reply, { type: T }>> {
    const p = this.next(type, timeoutMs);
    this.child.send(cmd);
    return p;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      this.child.send({ type: "close" });
    } catch {
      // IPC already closed
    }
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * The forked side of LoadProc: each command goes to `onCommand`, except `close`, which (as the
 * parent going away does) closes every connection, answers `closed` and exits. Answers `ready`.
 */
export function serveLoadCommands<Cmd extends { type: string }>(
  closeAll: () => void,
  onCommand: (m: Cmd) => void,
): void {
  process.on("disconnect", () => {
    closeAll();
    process.exit(0);
  });
  process.on("message", (m: Cmd) => {
    if (m.type !== "close") return onCommand(m);
    closeAll();
    process.send!({ type: "closed" });
    setTimeout(() => process.exit(0), 100);
  });
  process.send!({ type: "ready" });
}
