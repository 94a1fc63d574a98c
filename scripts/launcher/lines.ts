/**
 * Calls `onLine` for every line a child writes to `stream` (without the newline), and for a last
 * line without one when the stream ends. Decoded as UTF-8 across chunks, so a character split
 * between two reads is not garbled.
 */
export function eachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  stream.setEncoding("utf8");
  let buffered = "";
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  stream.once("end", () => {
    if (buffered) onLine(buffered);
    buffered = "";
  });
}
