export { onShutdown, exitOnStartupError, loadConfigOrExit } from "./lifecycle.ts";
export { runService } from "./runService.ts";
export type { NatsSource, Service, ServiceParts, StopBeside } from "./service.ts";
