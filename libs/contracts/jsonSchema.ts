import { Type, type Static, type TSchema, type TUnsafe } from "@sinclair/typebox";

// Two shapes TypeBox would otherwise write as `anyOf`. These are the forms herald's routes have
// always declared: OpenAPI readers show them plainly, and fast-json-stringify serializes them
// directly instead of validating a value against each branch to pick one.

/** A string that is one of `values`: `{ type: "string", enum: [...] }`. */
export function StringEnum<const T extends readonly string[]>(values: T): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: "string", enum: [...values] });
}

/** The schema, or null: `type: [<its type>, "null"]`. */
export function Nullable<T extends TSchema & { type: string }>(schema: T): TUnsafe<Static<T> | null> {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, "null"] });
}
