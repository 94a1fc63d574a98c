export { runService } from "./runService.ts";
export type { NatsSource, Service, ServiceParts, StopBeside } from "./service.ts";
export { loadConfigOrExit } from "./lifecycle.ts";
