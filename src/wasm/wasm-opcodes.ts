/**
 * The instructions the structural check (wasm-limits.ts) knows: for each, how many values it leaves on the
 * operand stack minus how many it takes, and what immediates follow it. Blocks, calls and `end` are handled
 * there. The effect only feeds an estimate of the stack height, so SIMD lanes are counted coarsely; what
 * matters is that every immediate is skipped exactly, since a wrong length would misread the rest.
 */
export enum Immediate {
  None,
  Index,
  TwoIndices,
  MemArg,
  MemArgLane,
  Byte,
  Bytes4,
  Bytes8,
  Bytes16,
  S32,
  S64,
  HeapType,
  BrTable,
  ValueTypes,
}

/** Effect of an instruction after which the rest of its block is unreachable (br, return, throw, …). */
export const UNREACHABLE = -1000;

type Known = readonly [effect: number, immediate: Immediate];

const NONE = (effect: number): Known => [effect, Immediate.None];

/** One-byte opcodes other than blocks, calls and `end`. */
function plain(op: number): Known | undefined {
  // Numeric instructions: tests and unary operations take one value and leave one, binary ones take two.
  if (op >= 0x45 && op <= 0xc4) return NONE(numericEffect(op));
  switch (op) {
    case 0x00: // unreachable
    case 0x0a: // throw_ref
    case 0x0f: // return
      return NONE(UNREACHABLE);
    case 0x01: // nop
      return NONE(0);
    case 0x08: // throw
    case 0x09: // rethrow
    case 0x0c: // br
      return [UNREACHABLE, Immediate.Index];
    case 0x0d: // br_if
      return [-1, Immediate.Index];
    case 0x0e: // br_table
      return [UNREACHABLE, Immediate.BrTable];
    case 0x1a: // drop
      return NONE(-1);
    case 0x1b: // select
      return NONE(-2);
    case 0x1c: // select with types
      return [-2, Immediate.ValueTypes];
    case 0x20: // local.get
    case 0x23: // global.get
      return [1, Immediate.Index];
    case 0x21: // local.set
    case 0x24: // global.set
      return [-1, Immediate.Index];
    case 0x22: // local.tee
    case 0x25: // table.get
      return [0, Immediate.Index];
    case 0x26: // table.set
      return [-2, Immediate.Index];
    case 0x3f: // memory.size
      return [1, Immediate.Index];
    case 0x40: // memory.grow
      return [0, Immediate.Index];
    case 0x41:
      return [1, Immediate.S32];
    case 0x42:
      return [1, Immediate.S64];
    case 0x43:
      return [1, Immediate.Bytes4];
    case 0x44:
      return [1, Immediate.Bytes8];
    case 0xd0: // ref.null
      return [1, Immediate.HeapType];
    case 0xd1: // ref.is_null
    case 0xd4: // ref.as_non_null
      return NONE(0);
    case 0xd2: // ref.func
      return [1, Immediate.Index];
    case 0xd3: // ref.eq
      return NONE(-1);
    case 0xd5: // br_on_null
    case 0xd6: // br_on_non_null
      return [0, Immediate.Index];
  }
  // Loads leave their value in place of the address; stores take address and value.
  if (op >= 0x28 && op <= 0x35) return [0, Immediate.MemArg];
  if (op >= 0x36 && op <= 0x3e) return [-2, Immediate.MemArg];
  return undefined;
}

function numericEffect(op: number): number {
  const unary =
    op === 0x45 || // i32.eqz
    op === 0x50 || // i64.eqz
    (op >= 0x67 && op <= 0x69) || // i32.clz ctz popcnt
    (op >= 0x79 && op <= 0x7b) || // i64.clz ctz popcnt
    (op >= 0x8b && op <= 0x91) || // f32 unary
    (op >= 0x99 && op <= 0x9f) || // f64 unary
    op >= 0xa7; // conversions, reinterpretations, sign extensions
  return unary ? 0 : -1;
}

/** 0xfc: saturating truncations, bulk memory and table instructions. */
function misc(code: number): Known | undefined {
  if (code <= 7) return NONE(0);
  switch (code) {
    case 8: // memory.init
    case 12: // table.init
    case 14: // table.copy
    case 10: // memory.copy
      return [-3, Immediate.TwoIndices];
    case 9: // data.drop
    case 13: // elem.drop
      return [0, Immediate.Index];
    case 11: // memory.fill
    case 17: // table.fill
      return [-3, Immediate.Index];
    case 15: // table.grow
      return [-1, Immediate.Index];
    case 16: // table.size
      return [1, Immediate.Index];
  }
  return undefined;
}

const REPLACE_LANE = new Set([23, 26, 28, 30, 32, 34]);

/** 0xfd: fixed-width SIMD (and relaxed SIMD, 0x100–0x113). */
function simd(code: number): Known | undefined {
  if (code <= 10 || code === 92 || code === 93) return [0, Immediate.MemArg]; // loads
  if (code === 11) return [-2, Immediate.MemArg]; // v128.store
  if (code === 12) return [1, Immediate.Bytes16]; // v128.const
  if (code === 13) return [-1, Immediate.Bytes16]; // i8x16.shuffle
  if (code >= 21 && code <= 34) return [REPLACE_LANE.has(code) ? -1 : 0, Immediate.Byte]; // lanes
  if (code >= 84 && code <= 87) return [-1, Immediate.MemArgLane]; // load_lane
  if (code >= 88 && code <= 91) return [-2, Immediate.MemArgLane]; // store_lane
  if (code === 82) return NONE(-2); // v128.bitselect
  // Everything else takes one or two vectors and leaves one: counted as unary, which can only overestimate.
  if (code <= 0x113) return NONE(0);
  return undefined;
}

/** 0xfe: threads (atomics). */
function atomic(code: number): Known | undefined {
  if (code === 3) return [0, Immediate.Byte]; // atomic.fence
  if (code === 0) return [-1, Immediate.MemArg]; // memory.atomic.notify
  if (code === 1 || code === 2) return [-2, Immediate.MemArg]; // wait32, wait64
  if (code >= 0x10 && code <= 0x16) return [0, Immediate.MemArg]; // loads
  if (code >= 0x17 && code <= 0x1d) return [-2, Immediate.MemArg]; // stores
  if (code >= 0x1e && code <= 0x47) return [-1, Immediate.MemArg]; // read-modify-write
  if (code >= 0x48 && code <= 0x4e) return [-2, Immediate.MemArg]; // compare-exchange
  return undefined;
}

// Computed once: the scan looks up every instruction of every function.
const table = (size: number, of: (code: number) => Known | undefined) =>
  Array.from({ length: size }, (_, code) => of(code));
const PLAIN = table(256, plain);
const MISC = table(18, misc);
const SIMD = table(0x114, simd);
const ATOMIC = table(0x4f, atomic);

export function netEffect(op: number, code: number): Known | undefined {
  switch (op) {
    case 0xfc:
      return MISC[code];
    case 0xfd:
      return SIMD[code];
    case 0xfe:
      return ATOMIC[code];
    default:
      return PLAIN[op];
  }
}
