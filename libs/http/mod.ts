export { createHttpServer, type HttpServerOptions } from "./server.ts";
export { registerErrorHandling, errorBody } from "./errors.ts";
