/** Deepest nesting a job payload may have: deeper JSON is refused before anything recurses on it. */
export const MAX_PAYLOAD_DEPTH = 64;

/**
 * True when `value` nests deeper than `max` arrays/objects. Iterative: a hostile payload of a
 * million nested arrays (which JSON.parse accepts) cannot overflow the stack here, and is refused
 * before JSON.stringify or a schema validator, which do recurse, ever see it.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return false;
}
