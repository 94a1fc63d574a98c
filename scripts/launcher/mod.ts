// Launching herald's processes for the tests, the bench and `npm run stack`: herald apps and
// nats-servers as children on free loopback ports, waited for until ready, their log lines read,
// stopped with SIGTERM then SIGKILL, and killed if the launching process exits first.
export {
  AppProcess,
  startApp,
  shutdownCutoffMs,
  type AppExit,
  type AppKind,
  type AppProcessOptions,
  type HeraldProcessKind,
} from "./appProcess.ts";
export { freePort } from "./freePort.ts";
export { waitReady, type WaitReadyOptions } from "./waitReady.ts";
export { eachLine } from "./lines.ts";
export { killOnExit } from "./exitGuard.ts";
export { startNatsServer } from "./natsServer.ts";
export { ClusterNode, startCluster, waitForJetStream } from "./natsCluster.ts";
