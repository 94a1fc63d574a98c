import { pathToFileURL } from "node:url";
import path from "node:path";
import AjvModule from "ajv";
import type { ValidateFunction } from "ajv";
import { isJobTypeName, isTimeLimit, MAX_TIME_LIMIT_MS, parseRequestDuration, type JobLane } from "../contracts/mod.ts";
import { BUILTIN_JOB_TYPES } from "./builtin.ts";
import type { JobType } from "./types.ts";

// ajv ships CommonJS; under NodeNext its default export is the module object.
const Ajv = AjvModule.default;

export interface JobRegistry {
  get(name: string): JobType | undefined;
  names(): string[];
  all(): readonly JobType[];
  /** Null when the payload fits the type's schema, else a human-readable reason. */
  validate(type: JobType, payload: unknown): string | null;
  /** The type's time limit in milliseconds (its `timeout`), or null for none. */
  timeoutMs(type: JobType): number | null;
  /** How many jobs of the type may run at once across all workers (its `concurrency`), or null for no cap. */
  concurrency(name: string): number | null;
  /** The JOBS lane of a job of this type: `capped` if the type has a concurrency cap, else `shared` (unknown types too). */
  laneOf(name: string): JobLane;
  /** Every type with a concurrency cap, and its cap: the consumers to provision. */
  caps(): TypeCap[];
}

/** A job type's concurrency cap, as provisioning and metrics need it. */
export interface TypeCap {
  type: string;
  concurrency: number;
}

/** The largest `concurrency` a type may have: beyond it a cap is not a cap but a queue setting. */
export const MAX_TYPE_CONCURRENCY = 10_000;

export class JobTypeDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JobTypeDefinitionError";
  }
}

/** A registry of the built-in job types plus `extra` ones. Schemas are compiled once, here. */
export function createJobRegistry(extra: readonly JobType[] = []): JobRegistry {
  const ajv = new Ajv({ allErrors: false, strict: false });
  const types = new Map<
    string,
    { type: JobType; validate: ValidateFunction; timeoutMs: number | null; concurrency: number | null }
  >();
  for (const type of [...BUILTIN_JOB_TYPES, ...extra]) {
    if (!type || typeof type !== "object" || typeof type.run !== "function" || !type.schema) {
      throw new JobTypeDefinitionError(`a job type must have a name, a schema and run(): got ${JSON.stringify(type)}`);
    }
    if (!isJobTypeName(type.name)) {
      throw new JobTypeDefinitionError(`job type name ${JSON.stringify(type.name)} must match ^[a-z][a-z0-9_-]{0,63}$`);
    }
    if (types.has(type.name))
      throw new JobTypeDefinitionError(`job type ${JSON.stringify(type.name)} is defined twice`);
    types.set(type.name, {
      type,
      validate: ajv.compile(type.schema),
      timeoutMs: timeLimitOf(type),
      concurrency: concurrencyOf(type),
    });
  }
  return {
    get: (name) => types.get(name)?.type,
    names: () => [...types.keys()],
    all: () => [...types.values()].map((t) => t.type),
    validate(type, payload) {
      const entry = types.get(type.name)!;
      if (entry.validate(payload)) return null;
      const e = entry.validate.errors?.[0];
      return e ? `payload${e.instancePath} ${e.message}` : "payload does not match the job type's schema";
    },
    timeoutMs: (type) => types.get(type.name)?.timeoutMs ?? null,
    concurrency: (name) => types.get(name)?.concurrency ?? null,
    laneOf: (name) => (types.get(name)?.concurrency != null ? "capped" : "shared"),
    caps: () =>
      [...types.values()].flatMap((t) =>
        t.concurrency === null ? [] : [{ type: t.type.name, concurrency: t.concurrency }],
      ),
  };
}

/** A type's `concurrency`, checked once here so that a bad one stops the process at start, not a job. */
function concurrencyOf(type: JobType): number | null {
  if (type.concurrency === undefined) return null;
  const n = type.concurrency;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_TYPE_CONCURRENCY) {
    throw new JobTypeDefinitionError(
      `job type ${JSON.stringify(type.name)}: concurrency ${JSON.stringify(n)} must be a whole number from 1 to ${MAX_TYPE_CONCURRENCY}`,
    );
  }
  return n;
}

/** A type's `timeout` in milliseconds, read once here so that a bad one stops the process at start, not a job. */
function timeLimitOf(type: JobType): number | null {
  if (type.timeout === undefined) return null;
  const ms = parseRequestDuration(type.timeout);
  if (!isTimeLimit(ms)) {
    throw new JobTypeDefinitionError(
      `job type ${JSON.stringify(type.name)}: timeout ${JSON.stringify(type.timeout)} must be a duration ` +
        `above 0 and at most ${MAX_TIME_LIMIT_MS / 86_400_000}d, in milliseconds or like "30s", "5m"`,
    );
  }
  return ms;
}

/**
 * Loads extra job types from the module named by WORKER_JOBS: its default export (an array of
 * job types) or, failing that, every exported job type. See docs/job-types.md.
 */
export async function loadJobTypes(modulePath: string | null): Promise<JobType[]> {
  if (!modulePath) return [];
  const url = pathToFileURL(path.resolve(modulePath)).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const candidates = Array.isArray(mod.default) ? mod.default : Object.values(mod);
  return candidates.filter(
    (v): v is JobType => !!v && typeof v === "object" && typeof (v as JobType).run === "function",
  );
}
