// TypeScript ships the WebAssembly JS API types only in lib.dom (@types/node 20 has none); nothing else of
// the DOM is used on the server.
/// <reference lib="dom" />
/**
 * Just enough of the WebAssembly binary format to summarise a module and cap its memories and tables. Neither
 * runtime caps wasm memory by itself (a malloc loop reaches 4 GiB in both), so the cap is written into the
 * module: every memory's maximum is lowered to the cap before instantiation, and `memory.grow` past it then
 * fails inside the guest; tables likewise (MAX_TABLE_ELEMENTS). Only the import (2), table (4) and memory (5)
 * sections are rewritten; every other byte is copied.
 */

export const WASM_PAGE_BYTES = 64 * 1024;

export type ExternKind = 'function' | 'table' | 'memory' | 'global' | 'tag';
const KINDS: readonly ExternKind[] = ['function', 'table', 'memory', 'global', 'tag'];

export interface ImportEntry {
  module: string;
  name: string;
  kind: ExternKind;
}
export interface ExportEntry {
  name: string;
  kind: ExternKind;
}
export interface ModuleSummary {
  imports: ImportEntry[];
  exports: ExportEntry[];
}

/** A module the engine refuses to load; `reason` is safe to show to the caller. */
export class InvalidModuleError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidModuleError';
  }
}

export interface Limits {
  flags: number;
  min: bigint;
  max: bigint | null;
}

export class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  byte(): number {
    if (this.pos >= this.end) throw new InvalidModuleError('truncated module');
    return this.bytes[this.pos++];
  }

  /** Unsigned LEB128, at most `bits` wide (32 or 64). */
  leb(bits = 32): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) break;
      if (shift >= BigInt(bits + 7)) throw new InvalidModuleError('malformed LEB128 integer');
    }
    return result;
  }

  u32(): number {
    return Number(this.leb(32));
  }

  /** Signed LEB128 of an i32.const, as the unsigned 32-bit value a memory offset is. */
  i32(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.byte();
      if (shift < 32) result |= (b & 0x7f) << shift;
      shift += 7;
      if (shift > 35 && b & 0x80) throw new InvalidModuleError('malformed LEB128 integer');
    } while (b & 0x80);
    if (shift < 32 && b & 0x40) result |= -1 << shift;
    return result >>> 0;
  }

  skip(count: number): void {
    if (this.pos + count > this.end) throw new InvalidModuleError('truncated module');
    this.pos += count;
  }

  name(): string {
    const length = this.u32();
    if (this.pos + length > this.end) throw new InvalidModuleError('truncated name');
    const slice = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    // fatal: a name that is not UTF-8 makes the module invalid rather than silently mangled.
    return new TextDecoder('utf-8', { fatal: true }).decode(slice);
  }

  limits(): Limits {
    const flags = this.byte();
    const wide = (flags & 0x04) !== 0;
    const min = this.leb(wide ? 64 : 32);
    const max = flags & 0x01 ? this.leb(wide ? 64 : 32) : null;
    return { flags, min, max };
  }
}

/** Unsigned LEB128, as the binary format writes sizes, counts and indices. */
export function encodeLeb(value: bigint): number[] {
  const out: number[] = [];
  do {
    let b = Number(value & 0x7fn);
    value >>= 7n;
    if (value !== 0n) b |= 0x80;
    out.push(b);
  } while (value !== 0n);
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export interface Section {
  id: number;
  /** Header (id + size) start. */
  start: number;
  contentStart: number;
  end: number;
}

export function sections(bytes: Uint8Array): Section[] {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || header.some((b, i) => bytes[i] !== b)) {
    throw new InvalidModuleError('not a WebAssembly binary module (bad magic or version)');
  }
  const out: Section[] = [];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.byte();
    const size = r.u32();
    const contentStart = r.pos;
    const end = contentStart + size;
    if (end > bytes.length) throw new InvalidModuleError('truncated section');
    out.push({ id, start, contentStart, end });
    r.pos = end;
  }
  return out;
}

export function kindOf(code: number): ExternKind {
  const kind = KINDS[code];
  if (!kind) throw new InvalidModuleError('unknown import or export kind');
  return kind;
}

/** Whether the module has a start function, which runs guest code as part of instantiating it. */
export function hasStartFunction(bytes: Uint8Array): boolean {
  return sections(bytes).some((s) => s.id === 8);
}

/** Imports and exports, read from the binary (the caller has already run WebAssembly.validate). */
export function summarize(bytes: Uint8Array): ModuleSummary {
  const imports: ImportEntry[] = [];
  const exports: ExportEntry[] = [];
  for (const s of sections(bytes)) {
    const r = new Reader(bytes, s.contentStart, s.end);
    if (s.id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        const module = r.name();
        const name = r.name();
        const kind = kindOf(r.byte());
        imports.push({ module, name, kind });
        skipImportDesc(r, kind);
      }
    } else if (s.id === 7) {
      for (let n = r.u32(); n > 0; n--) {
        const name = r.name();
        exports.push({ name, kind: kindOf(r.byte()) });
        r.u32();
      }
    }
  }
  return { imports, exports };
}

export function skipImportDesc(r: Reader, kind: ExternKind): void {
  switch (kind) {
    case 'function':
      r.u32();
      return;
    case 'table':
      r.byte(); // reference type
      r.limits();
      return;
    case 'memory':
      r.limits();
      return;
    case 'global':
      r.byte(); // value type
      r.byte(); // mutability
      return;
    case 'tag':
      r.byte(); // attribute
      r.u32();
      return;
  }
}

/** The capped limits of one memory; shared and 64-bit memories are refused outright. */
function capLimits(limits: Limits, capPages: bigint): number[] {
  // Shared memories (0x02) let a guest share state across threads; memory64 (0x04) and any other flag
  // (custom page sizes, …) fall outside what the cap logic understands, so they are rejected, not passed.
  if (limits.flags & 0x02) throw new InvalidModuleError('shared memories are not allowed');
  if (limits.flags & 0x04) throw new InvalidModuleError('64-bit memories are not allowed');
  if (limits.flags > 0x01) throw new InvalidModuleError('unsupported memory limits');
  if (limits.min > capPages) {
    throw new InvalidModuleError('initial memory exceeds the memory limit');
  }
  const max = limits.max === null || limits.max > capPages ? capPages : limits.max;
  return [0x01, ...encodeLeb(limits.min), ...encodeLeb(max)];
}

/**
 * The most elements a module's tables may hold in all, initial or grown. V8 keeps a table in the JS heap of
 * the guest's worker (64 MB, ~8 bytes an element), and a table past that heap aborted the whole process (a
 * fatal out-of-memory), not just the worker: 10 M elements, V8's own limit, took down the server or agent.
 */
export const MAX_TABLE_ELEMENTS = 1_000_000;

/** A table section with each table's maximum lowered so that all of them together fit MAX_TABLE_ELEMENTS. */
function capTables(r: Reader): Uint8Array {
  const tables: { type: Uint8Array; min: bigint; max: bigint | null }[] = [];
  for (let count = r.u32(); count > 0; count--) {
    const typeStart = r.pos;
    const refType = r.byte();
    if (refType === 0x40) throw new InvalidModuleError('tables with an initializer are not supported');
    if (refType === 0x63 || refType === 0x64) r.leb(33); // a typed reference's heap type
    const type = r.bytes.subarray(typeStart, r.pos);
    const limits = r.limits();
    if (limits.flags > 0x01) throw new InvalidModuleError('unsupported table limits');
    tables.push({ type, min: limits.min, max: limits.max });
  }
  let spare = BigInt(MAX_TABLE_ELEMENTS) - tables.reduce((sum, t) => sum + t.min, 0n);
  if (spare < 0n) {
    throw new InvalidModuleError(`tables of more than ${MAX_TABLE_ELEMENTS} elements in all are not allowed`);
  }
  const body: Uint8Array[] = [new Uint8Array(encodeLeb(BigInt(tables.length)))];
  for (const table of tables) {
    // The room left goes to the first tables that can grow (table.grow past a maximum fails in the guest).
    const grown = table.max === null || table.max - table.min > spare ? spare : table.max - table.min;
    spare -= grown;
    body.push(table.type, new Uint8Array([0x01, ...encodeLeb(table.min), ...encodeLeb(table.min + grown)]));
  }
  return concat(body);
}

/**
 * Returns a copy of the module whose every memory (defined or imported) has `max ≤ capBytes`, and whose
 * tables hold at most MAX_TABLE_ELEMENTS in all. Throws InvalidModuleError for shared or 64-bit memories, for
 * an initial size above the cap, and for tables whose initial sizes are past theirs.
 */
export function capModule(bytes: Uint8Array, capBytes: number): Uint8Array<ArrayBuffer> {
  const capPages = BigInt(Math.floor(capBytes / WASM_PAGE_BYTES));
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  for (const s of sections(bytes)) {
    if (s.id === 4) {
      const r = new Reader(bytes, s.contentStart, s.end);
      const content = capTables(r);
      if (r.pos !== s.end) throw new InvalidModuleError('malformed section');
      parts.push(new Uint8Array([s.id, ...encodeLeb(BigInt(content.length))]), content);
      continue;
    }
    if (s.id !== 2 && s.id !== 5) {
      parts.push(bytes.subarray(s.start, s.end));
      continue;
    }
    const r = new Reader(bytes, s.contentStart, s.end);
    const body: Uint8Array[] = [];
    const count = r.u32();
    body.push(new Uint8Array(encodeLeb(BigInt(count))));
    for (let i = 0; i < count; i++) {
      const entryStart = r.pos;
      if (s.id === 5) {
        body.push(new Uint8Array(capLimits(r.limits(), capPages)));
        continue;
      }
      r.name();
      r.name();
      const kind = kindOf(r.byte());
      if (kind !== 'memory') {
        skipImportDesc(r, kind);
        body.push(bytes.subarray(entryStart, r.pos));
        continue;
      }
      body.push(bytes.subarray(entryStart, r.pos));
      body.push(new Uint8Array(capLimits(r.limits(), capPages)));
    }
    if (r.pos !== s.end) throw new InvalidModuleError('malformed section');
    const content = concat(body);
    parts.push(new Uint8Array([s.id, ...encodeLeb(BigInt(content.length))]), content);
  }
  return concat(parts);
}
