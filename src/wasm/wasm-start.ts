import {
  concat,
  encodeLeb,
  InvalidModuleError,
  kindOf,
  Reader,
  Section,
  sections,
  skipImportDesc,
} from './wasm-binary';

const FUNCTION_TYPE = 0x60;
const CALL = 0x10;
const END = 0x0b;

/**
 * Runs a module's start function as the first thing its `_start` does, rather than while it is instantiated:
 * the start section is dropped, and `_start` is exported as a new function that calls the start function,
 * then the old `_start`. Why: a start function that traps failed instantiation, which V8 reported as
 * `invalid_module` and the wasmer SDK as exit code 45 (ENOEXEC) — then its whole thread pool shut down, so
 * each run of such a module cost a wasmer worker. Now its trap is a trap of the guest, `trap` on both
 * runtimes, like any other. Nothing runs between instantiation and `_start` for a WASI command, so the guest
 * sees the same order of events (segments are still written first); a start function that calls WASI now
 * finds its memory bound on V8 too.
 *
 * Returns the bytes unchanged when the module has no start section, or anything the rewrite cannot be sure
 * of: no `_start` function export, a `_start` or start function that is not `[] -> []`, a type that is not a
 * plain function type, no function or code section. Expects bytes that validated.
 */
export function deferStart<T extends Uint8Array>(bytes: T): T | Uint8Array<ArrayBuffer> {
  try {
    return rewrite(bytes) ?? bytes;
  } catch (error) {
    if (error instanceof InvalidModuleError) return bytes;
    throw error;
  }
}

function rewrite(bytes: Uint8Array): Uint8Array<ArrayBuffer> | null {
  const all = sections(bytes);
  const byId = (id: number) => all.find((s) => s.id === id);
  const startSection = byId(8);
  const functions = byId(3);
  const exports = byId(7);
  const code = byId(10);
  if (!startSection || !functions || !exports || !code) return null;
  const start = new Reader(bytes, startSection.contentStart, startSection.end).u32();

  const voidTypes = voidTypesOf(bytes, byId(1));
  if (voidTypes === null) return null;
  const funcTypes = importedFunctionTypes(bytes, byId(2));
  const r = new Reader(bytes, functions.contentStart, functions.end);
  const defined = r.u32();
  for (let i = 0; i < defined; i++) funcTypes.push(r.u32());

  const entry = startExport(bytes, exports);
  if (entry === null) return null;
  const oldStart = entry.index;
  const type = funcTypes[oldStart];
  if (type === undefined || !voidTypes.has(type) || !voidTypes.has(funcTypes[start] ?? -1)) return null;
  const wrapper = funcTypes.length;

  const body = [0x00, CALL, ...leb(start), CALL, ...leb(oldStart), END]; // no locals
  // Uint8Array pieces, not number arrays: a code section may be megabytes.
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  for (const s of all) {
    if (s.id === 8) continue;
    if (s.id === 3) parts.push(...append(bytes, s, defined, leb(type)));
    else if (s.id === 10) parts.push(...append(bytes, s, defined, [...leb(body.length), ...body]));
    else if (s.id === 7) {
      const index = new Uint8Array(leb(wrapper));
      const size = entry.indexStart - s.contentStart + index.length + (s.end - entry.indexEnd);
      parts.push(new Uint8Array([7, ...leb(size)]), bytes.subarray(s.contentStart, entry.indexStart), index);
      parts.push(bytes.subarray(entry.indexEnd, s.end));
    } else parts.push(bytes.subarray(s.start, s.end));
  }
  return concat(parts);
}

/** The indices of the `[] -> []` types, or null for a type section this does not read (GC types). */
function voidTypesOf(bytes: Uint8Array, types: Section | undefined): Set<number> | null {
  const out = new Set<number>();
  if (!types) return out;
  const r = new Reader(bytes, types.contentStart, types.end);
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    if (r.byte() !== FUNCTION_TYPE) return null;
    const params = r.u32();
    for (let p = 0; p < params; p++) valueType(r);
    const results = r.u32();
    for (let p = 0; p < results; p++) valueType(r);
    if (params === 0 && results === 0) out.add(i);
  }
  return out;
}

function valueType(r: Reader): void {
  const type = r.byte();
  // Typed references carry a heap type after them: not read.
  if (type === 0x63 || type === 0x64) throw new InvalidModuleError('typed reference');
}

function importedFunctionTypes(bytes: Uint8Array, imports: Section | undefined): number[] {
  const out: number[] = [];
  if (!imports) return out;
  const r = new Reader(bytes, imports.contentStart, imports.end);
  for (let n = r.u32(); n > 0; n--) {
    r.skip(r.u32());
    r.skip(r.u32());
    const kind = kindOf(r.byte());
    if (kind === 'function') out.push(r.u32());
    else skipImportDesc(r, kind);
  }
  return out;
}

/** Where the function index of the `_start` export is written, and its value. */
function startExport(
  bytes: Uint8Array,
  exports: Section,
): { index: number; indexStart: number; indexEnd: number } | null {
  const r = new Reader(bytes, exports.contentStart, exports.end);
  for (let n = r.u32(); n > 0; n--) {
    const name = r.name();
    const kind = r.byte();
    const indexStart = r.pos;
    const index = r.u32();
    if (name === '_start' && kind === 0x00) return { index, indexStart, indexEnd: r.pos };
  }
  return null;
}

/** A vector section of `count` entries (else the rewrite is off) with one more at its end. */
function append(bytes: Uint8Array, s: Section, count: number, entry: number[]): Uint8Array[] {
  const r = new Reader(bytes, s.contentStart, s.end);
  if (r.u32() !== count) throw new InvalidModuleError('function and code counts differ');
  const head = leb(count + 1);
  const size = head.length + (s.end - r.pos) + entry.length;
  return [new Uint8Array([s.id, ...leb(size), ...head]), bytes.subarray(r.pos, s.end), new Uint8Array(entry)];
}

const leb = (value: number): number[] => encodeLeb(BigInt(value));
