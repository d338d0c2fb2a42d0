import { kindOf, Reader, sections, skipImportDesc, WASM_PAGE_BYTES } from './wasm-binary';

const OUT_OF_BOUNDS = 'data segment is out of bounds';

/**
 * Why instantiating the module would fail because an active data segment does not fit in its memory's initial
 * size, where the binary tells it (offsets that are constants, or sums and products of constants and
 * constant globals); null when it fits or cannot be told. V8 refuses such a module at instantiation, but the
 * wasmer SDK only fails later, in a thread of its own, and that failure brought down the worker's whole SDK
 * thread pool: it is refused before it runs (`verdict`). Expects bytes WebAssembly.validate accepted.
 */
export function dataSegmentFault(bytes: Uint8Array): string | null {
  try {
    return outOfBounds(bytes) ? OUT_OF_BOUNDS : null;
  } catch (error) {
    if (error instanceof Unreadable) return null;
    throw error;
  }
}

/** An expression or type this check does not read: it cannot tell, so it tells nothing. */
class Unreadable extends Error {}

function outOfBounds(bytes: Uint8Array): boolean {
  /** Initial bytes of each memory, imported ones first (null: imported, so possibly larger). */
  const memories: (number | null)[] = [];
  /** Value of each i32 global whose initializer is a constant (null: anything else). */
  const globals: (number | null)[] = [];
  for (const s of sections(bytes)) {
    const r = new Reader(bytes, s.contentStart, s.end);
    if (s.id === 2) readImports(r, memories, globals);
    else if (s.id === 5) {
      for (let n = r.u32(); n > 0; n--) memories.push(Number(r.limits().min) * WASM_PAGE_BYTES);
    } else if (s.id === 6) {
      for (let n = r.u32(); n > 0; n--) {
        const type = r.byte();
        if (type === 0x63 || type === 0x64) throw new Unreadable(); // typed references
        r.byte(); // mutability
        const value = constant(r, globals);
        globals.push(type === 0x7f ? value : null);
      }
    } else if (s.id === 11) {
      for (let n = r.u32(); n > 0; n--) {
        const flags = r.u32();
        if (flags === 1) {
          r.skip(r.u32()); // passive: copied only by memory.init, which traps by itself
          continue;
        }
        const memory = flags === 2 ? r.u32() : 0;
        const offset = constant(r, globals);
        const length = r.u32();
        r.skip(length);
        const size = memories[memory];
        if (offset !== null && size !== null && size !== undefined && offset + length > size) {
          return true;
        }
      }
    }
  }
  return false;
}

function readImports(r: Reader, memories: (number | null)[], globals: (number | null)[]): void {
  for (let n = r.u32(); n > 0; n--) {
    r.name();
    r.name();
    const kind = kindOf(r.byte());
    skipImportDesc(r, kind);
    // Imported: their size or value is not in the binary.
    if (kind === 'memory') memories.push(null);
    else if (kind === 'global') globals.push(null);
  }
}

/**
 * Evaluates a constant expression up to its `end`: i32 constants, constant globals and the extended-const
 * i32 add/sub/mul, wrapping as wasm does. Null for anything else (it is read to its end all the same).
 */
function constant(r: Reader, globals: (number | null)[]): number | null {
  const stack: (number | null)[] = [];
  for (;;) {
    const op = r.byte();
    if (op === 0x0b) break;
    if (op === 0x41) stack.push(r.i32());
    else if (op === 0x23) stack.push(globals[r.u32()] ?? null);
    else if (op >= 0x6a && op <= 0x6c) {
      const b = stack.pop() ?? null;
      const a = stack.pop() ?? null;
      stack.push(a === null || b === null ? null : arithmetic(op, a, b));
    } else {
      stack.push(null);
      // Constants that are no i32 offset: read past them (an immediate may hold the byte 0x0b).
      if (op === 0x42) r.leb(64);
      else if (op === 0x43) r.skip(4);
      else if (op === 0x44) r.skip(8);
      else if (op === 0xd0)
        r.byte(); // ref.null of an abstract heap type
      else if (op === 0xd2)
        r.u32(); // ref.func
      else throw new Unreadable();
    }
  }
  return stack.length === 1 ? stack[0] : null;
}

function arithmetic(op: number, a: number, b: number): number {
  if (op === 0x6a) return (a + b) >>> 0;
  if (op === 0x6b) return (a - b) >>> 0;
  return Math.imul(a, b) >>> 0;
}
