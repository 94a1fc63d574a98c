import { PassThrough } from "node:stream";
import { expect, it } from "vitest";
import { eachLine } from "./lines.ts";

it("splits a stream into lines across chunks, a character split between chunks included, and flushes the last line at its end", async () => {
  const stream = new PassThrough();
  const lines: string[] = [];
  eachLine(stream, (l) => lines.push(l));
  const euro = Buffer.from("€"); // 3 bytes
  stream.write(Buffer.concat([Buffer.from('{"msg":"a'), euro.subarray(0, 1)]));
  stream.write(Buffer.concat([euro.subarray(1), Buffer.from('"}\nsecond\nthi')]));
  stream.end("rd");
  await new Promise((r) => stream.once("end", r));
  expect(lines).toEqual(['{"msg":"a€"}', "second", "third"]);
});
