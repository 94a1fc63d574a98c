export * from "./names.ts";
export * from "./ids.ts";
export * from "./subjects.ts";
export * from "./events.ts";
export * from "./status.ts";
export * from "./queueMessages.ts";
export * from "./errors.ts";
export * from "./state.ts";
