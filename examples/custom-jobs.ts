/**
 * An example WORKER_JOBS module: herald loads the job types it exports, beside the built-in ones.
 *
 *   WORKER_JOBS=examples/custom-jobs.ts npm start
 *   curl … -d '{"type":"wordcount","payload":{"text":"to be or not to be"}}'
 *
 * Set the same WORKER_JOBS for the API (it validates payloads against these schemas) and for
 * every worker (they run the handlers). See docs/job-types.md.
 */
import { defineJob, PermanentJobError, Type } from "../libs/jobs/mod.ts";

export const wordcount = defineJob({
  name: "wordcount",
  description: "Counts the words of `text`, the most frequent first.",
  schema: Type.Object(
    { text: Type.String({ maxLength: 100_000 }), top: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) },
    { additionalProperties: false },
  ),
  example: { text: "to be or not to be", top: 3 },
  // CPU-bound: at most 4 run at once in the whole deployment, however many workers there are.
  concurrency: 4,
  async run(ctx) {
    const words = ctx.payload.text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
    if (words.length === 0) throw new PermanentJobError("there are no words in `text`", "empty_text");
    const counts = new Map<string, number>();
    words.forEach((w, i) => {
      counts.set(w, (counts.get(w) ?? 0) + 1);
      if (i % 10_000 === 0) ctx.progress((i / words.length) * 100, `${i} of ${words.length} words`);
    });
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, ctx.payload.top ?? 10);
    return { words: words.length, distinct: counts.size, top: Object.fromEntries(top) };
  },
});

export default [wordcount];
