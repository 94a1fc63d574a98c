/**
 * The nats-server releases herald runs on. The current release is the primary target (tests and the
 * benchmark run on it); 2.10 is the floor, and CI runs the suite on 2.10.27 too (Debian 13's).
 *
 * Within 2.10 the floor is 2.10.14, the first release with both server fixes herald now relies on:
 * `+TERM <reason>` is understood from 2.10.4 (2.9 ignored a term with a reason: the message stayed
 * pending), and from 2.10.14 a nak'ed message handed to an expired pull request no longer has its
 * delivery count go backwards (apps/worker/attempt.ts). 2.9 is refused: its replay requests
 * are 20–80× slower, its file store miscounts a filtered consumer's pending messages (fixed in
 * 2.9.15; libs/results/readEventsFrom.ts), and it republished events out of sequence order.
 */
export const NATS_SERVER_FLOOR = "2.10.14";

/** A server below {@link NATS_SERVER_FLOOR}: every app refuses it at start-up, saying what to do. */
export class NatsServerTooOldError extends Error {
  readonly found: string;
  constructor(found: string, where: string) {
    super(
      `nats-server ${found} (${where}) is older than ${NATS_SERVER_FLOOR}, the oldest herald supports. ` +
        "Run `npm run setup` to get the current nats-server into .tools/, or install " +
        NATS_SERVER_FLOOR +
        " or newer " +
        "and point NATS_SERVER_BIN (npm start) or NATS_URL (the apps) at it.",
    );
    this.name = "NatsServerTooOldError";
    this.found = found;
  }
}

/** "2.10.27" → [2, 10, 27]; a pre-release or build suffix is ignored ("2.11.0-RC.1" → [2, 11, 0]). */
function parts(version: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Whether `version` is at least `floor` (both "major.minor.patch"); an unreadable version is not. */
export function versionAtLeast(version: string, floor = NATS_SERVER_FLOOR): boolean {
  const v = parts(version);
  const f = parts(floor);
  if (!v || !f) return false;
  for (let i = 0; i < 3; i++) {
    if (v[i]! !== f[i]!) return v[i]! > f[i]!;
  }
  return true;
}

/** Throws {@link NatsServerTooOldError} for a server below the floor; `where` says which one. */
export function assertSupportedServer(version: string, where: string): void {
  if (!versionAtLeast(version)) throw new NatsServerTooOldError(version || "of unknown version", where);
}
