// Standard input and output of a built-in program (WASI through @assemblyscript/wasi-shim).

const CHUNK: i32 = 64 * 1024;

/** All of stdin as text (UTF-8). A program's input is one JSON document, bounded by the server's limits. */
export function readStdin(): string {
  let buffer = new ArrayBuffer(CHUNK);
  let length: i32 = 0;
  while (true) {
    if (length == buffer.byteLength) {
      const bigger = new ArrayBuffer(buffer.byteLength * 2);
      memory.copy(changetype<usize>(bigger), changetype<usize>(buffer), <usize>length);
      buffer = bigger;
    }
    const read = process.stdin.read(buffer, length);
    if (read <= 0) break;
    length += read;
  }
  return String.UTF8.decode(buffer.slice(0, length));
}

export function writeStdout(text: string): void {
  process.stdout.write(text);
}

/** Ends the program: 0 for an answer (a computed `error` is an answer too), nonzero for unusable input. */
export function exit(code: i32): void {
  process.exit(code);
}
