#!/usr/bin/env node
// The `herald` command (package.json "bin"): runs the TypeScript CLI through tsx's loader, so
// `npx herald …` works in a clone without a build step.
import { register } from "tsx/esm/api";

register();
await import("../apps/cli/main.ts");
