import type { StructuralLimits } from './wasm.config';
import { InvalidModuleError } from './wasm-binary';
import { Immediate, netEffect, UNREACHABLE } from './wasm-opcodes';

/**
 * Structural limits on a module, checked before any engine sees its code (like wasmtime's and V8's own
 * limits, but tighter, and configurable): what an engine allocates to validate and compile a function grows
 * with its size, its control-flow nesting, and, for the optimizing tier, with the locals and operand-stack
 * values live at each loop header (one phi each). Measured on V8 11 (Node 20): 1 M nested `loop`s (3 MB)
 * peaked at 0.9 GB; 1 024 loops over 50 000 locals (3 KB) at 0.63 GB; 1 024 loops over 100 000 stacked
 * values (0.3 MB) at 1.2 GB. With every limit below at its default, the worst module peaks near 0.1 GB.
 */
export type { StructuralLimits };

/** A module over one of the structural limits; the message names the setting. */
export class LimitExceededError extends InvalidModuleError {
  constructor(
    readonly variable: keyof typeof LIMIT_VARIABLES,
    reason: string,
  ) {
    super(`${reason} (over ${variable})`);
    this.name = 'LimitExceededError';
  }
}

export const LIMIT_VARIABLES = {
  WASM_MAX_FUNCTIONS: 'maxFunctions',
  WASM_MAX_FUNCTION_BYTES: 'maxFunctionBytes',
  WASM_MAX_LOCALS: 'maxLocals',
  WASM_MAX_NESTING_DEPTH: 'maxNestingDepth',
  WASM_MAX_LOOP_STATE: 'maxLoopState',
} as const satisfies Record<string, keyof StructuralLimits>;

const invalid = (reason: string) => new InvalidModuleError(reason);

/** A bounds-checked cursor with number-only LEB128 (the BigInt reader in wasm-binary.ts is too slow here). */
class Cursor {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    public end: number,
  ) {}

  byte(): number {
    if (this.pos >= this.end) throw invalid('truncated module');
    return this.bytes[this.pos++];
  }

  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw invalid('malformed LEB128 integer');
        return result;
      }
    }
    throw invalid('malformed LEB128 integer');
  }

  /** Skips a signed LEB128 of at most `maxBytes` bytes (s32: 5, s33: 5, s64: 10). */
  skipLeb(maxBytes: number): void {
    for (let i = 0; i < maxBytes; i++) if ((this.byte() & 0x80) === 0) return;
    throw invalid('malformed LEB128 integer');
  }

  skip(count: number): void {
    if (this.pos + count > this.end) throw invalid('truncated module');
    this.pos += count;
  }

  /** A value type: one byte, or a typed reference (0x63/0x64) followed by its heap type. */
  valueType(): void {
    const b = this.byte();
    if (b === 0x63 || b === 0x64) this.skipLeb(5);
  }
}

interface FuncType {
  params: number;
  results: number;
}

interface Frame {
  /** Stack height below the frame's parameters. */
  base: number;
  params: number;
  results: number;
}

/** What the type, import and function sections say about each function's signature. */
interface Signatures {
  types: FuncType[];
  /** Type index of every function, imported ones first. */
  functions: number[];
}

/**
 * Checks the structural limits. Runs before WebAssembly.validate (which itself costs memory in proportion
 * to nesting), so it must stand malformed input: every read is bounds-checked, every count is checked against
 * its limit before it is used, and an instruction it does not know refuses the module.
 */
export function checkStructure(bytes: Uint8Array, limits: StructuralLimits): void {
  if (bytes.length < 8) throw invalid('not a WebAssembly binary module');
  const signatures: Signatures = { types: [], functions: [] };
  const r = new Cursor(bytes, 8, bytes.length);
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (end > bytes.length) throw invalid('truncated section');
    const section = new Cursor(bytes, r.pos, end);
    if (id === 1) readTypes(section, signatures);
    else if (id === 2) readImports(section, signatures, limits);
    else if (id === 3) readFunctions(section, signatures, limits);
    else if (id === 10) readCode(section, signatures, limits);
    r.pos = end;
  }
}

function readTypes(r: Cursor, signatures: Signatures): void {
  for (let n = r.u32(); n > 0; n--) {
    // 0x60 is a function type; GC's recursive and sub types are not accepted by this service.
    if (r.byte() !== 0x60) throw invalid('unsupported type definition');
    const params = r.u32();
    for (let i = 0; i < params; i++) r.valueType();
    const results = r.u32();
    for (let i = 0; i < results; i++) r.valueType();
    signatures.types.push({ params, results });
  }
}

function countFunctions(signatures: Signatures, more: number, limits: StructuralLimits): void {
  if (signatures.functions.length + more > limits.maxFunctions) {
    throw new LimitExceededError('WASM_MAX_FUNCTIONS', `more than ${limits.maxFunctions} functions`);
  }
}

function readImports(r: Cursor, signatures: Signatures, limits: StructuralLimits): void {
  for (let n = r.u32(); n > 0; n--) {
    r.skip(r.u32()); // module name
    r.skip(r.u32()); // field name
    const kind = r.byte();
    if (kind === 0) {
      countFunctions(signatures, 1, limits);
      signatures.functions.push(r.u32());
    } else if (kind === 1) {
      r.valueType();
      skipLimits(r);
    } else if (kind === 2) {
      skipLimits(r);
    } else if (kind === 3) {
      r.valueType();
      r.byte();
    } else if (kind === 4) {
      r.byte();
      r.u32();
    } else {
      throw invalid('unknown import kind');
    }
  }
}

function skipLimits(r: Cursor): void {
  const flags = r.byte();
  const width = flags & 0x04 ? 10 : 5;
  r.skipLeb(width);
  if (flags & 0x01) r.skipLeb(width);
}

function readFunctions(r: Cursor, signatures: Signatures, limits: StructuralLimits): void {
  const count = r.u32();
  countFunctions(signatures, count, limits);
  for (let i = 0; i < count; i++) signatures.functions.push(r.u32());
}

function readCode(r: Cursor, signatures: Signatures, limits: StructuralLimits): void {
  const count = r.u32();
  const imported = signatures.functions.length - count;
  if (imported < 0) throw invalid('function and code section counts differ');
  for (let i = 0; i < count; i++) {
    const size = r.u32();
    const index = imported + i;
    if (size > limits.maxFunctionBytes) {
      throw new LimitExceededError(
        'WASM_MAX_FUNCTION_BYTES',
        `function ${index} is ${size} bytes, more than ${limits.maxFunctionBytes}`,
      );
    }
    if (r.pos + size > r.end) throw invalid('truncated function body');
    const type = signatures.types[signatures.functions[index]];
    if (!type) throw invalid('function refers to an unknown type');
    scanBody(new Cursor(r.bytes, r.pos, r.pos + size), index, type, signatures, limits);
    r.pos += size;
  }
}

function blockType(r: Cursor, types: FuncType[]): FuncType {
  const first = r.bytes[r.pos];
  if (first === 0x40) {
    r.pos++;
    return { params: 0, results: 0 };
  }
  // A single-byte negative s33 is a value type; a non-negative one is a type index.
  if (first !== undefined && (first & 0xc0) === 0x40) {
    r.valueType();
    return { params: 0, results: 1 };
  }
  const type = types[r.u32()];
  if (!type) throw invalid('block refers to an unknown type');
  return type;
}

/**
 * Walks one function body tracking nesting and an estimate of the operand-stack height (each instruction's
 * net effect; in unreachable code the height stays at the enclosing block's base, as in validation).
 */
function scanBody(
  r: Cursor,
  index: number,
  type: FuncType,
  { types, functions }: Signatures,
  limits: StructuralLimits,
): void {
  let locals = type.params;
  for (let groups = r.u32(); groups > 0; groups--) {
    locals += r.u32();
    if (locals > limits.maxLocals) {
      throw new LimitExceededError(
        'WASM_MAX_LOCALS',
        `function ${index} has more than ${limits.maxLocals} locals`,
      );
    }
    r.valueType();
  }
  const frames: Frame[] = [{ base: 0, params: 0, results: type.results }];
  let height = 0;
  let loopState = 0;
  const open = (block: FuncType) => {
    if (frames.length > limits.maxNestingDepth) {
      throw new LimitExceededError(
        'WASM_MAX_NESTING_DEPTH',
        `function ${index} nests blocks deeper than ${limits.maxNestingDepth}`,
      );
    }
    frames.push({ base: Math.max(0, height - block.params), params: block.params, results: block.results });
  };
  const call = (typeIndex: number | undefined, extra: number) => {
    const callee = typeIndex === undefined ? undefined : types[typeIndex];
    if (!callee) throw invalid('call to an unknown function or type');
    height += callee.results - callee.params - extra;
  };
  while (r.pos < r.end) {
    const op = r.byte();
    const top = frames[frames.length - 1];
    switch (op) {
      case 0x02: // block
      case 0x06: // try
        open(blockType(r, types));
        continue;
      case 0x03: {
        // loop: the optimizing tier keeps a phi per local and per stacked value at its header
        open(blockType(r, types));
        loopState += 1 + locals + height;
        if (loopState > limits.maxLoopState) {
          throw new LimitExceededError(
            'WASM_MAX_LOOP_STATE',
            `function ${index} has loops holding more than ${limits.maxLoopState} locals and stack values`,
          );
        }
        continue;
      }
      case 0x04: // if
        height--;
        open(blockType(r, types));
        continue;
      case 0x1f: {
        // try_table: block type, then catch clauses (kind, tag for kinds 0 and 1, label)
        open(blockType(r, types));
        for (let n = r.u32(); n > 0; n--) {
          const kind = r.byte();
          if (kind > 3) throw invalid('unknown catch kind');
          if (kind < 2) r.u32();
          r.u32();
        }
        continue;
      }
      case 0x05: // else
      case 0x19: // catch_all
        height = top.base + (op === 0x05 ? top.params : 0);
        continue;
      case 0x07: // catch
        r.u32();
        height = top.base;
        continue;
      case 0x0b: // end
      case 0x18: // delegate
        if (op === 0x18) r.u32();
        if (frames.length === 1) {
          if (op !== 0x0b || r.pos !== r.end) throw invalid('malformed function body');
          return;
        }
        frames.pop();
        height = top.base + top.results;
        continue;
      case 0x10: // call
        call(functions[r.u32()], 0);
        continue;
      case 0x11: // call_indirect
        call(r.u32(), 1);
        r.u32();
        continue;
      case 0x14: // call_ref
        call(r.u32(), 1);
        continue;
      case 0x12: // return_call
      case 0x13: // return_call_indirect
      case 0x15: // return_call_ref
        r.u32();
        if (op === 0x13) r.u32();
        height = top.base;
        continue;
    }
    height += step(r, op, top);
    if (height < top.base) height = top.base;
  }
  throw invalid('function body has no end');
}

/** Reads one instruction's immediates and returns its net effect on the stack; refuses unknown ones. */
function step(r: Cursor, op: number, top: Frame): number {
  const prefixed = op === 0xfc || op === 0xfd || op === 0xfe;
  const code = prefixed ? r.u32() : 0;
  const known = netEffect(op, code);
  if (!known) {
    const name = prefixed ? `0x${op.toString(16)} ${code}` : `0x${op.toString(16)}`;
    throw invalid(`uses an instruction this service does not accept (${name})`);
  }
  const [effect, immediate] = known;
  switch (immediate) {
    case Immediate.None:
      break;
    case Immediate.Index:
      r.u32();
      break;
    case Immediate.TwoIndices:
      r.u32();
      r.u32();
      break;
    case Immediate.MemArg:
      memArg(r);
      break;
    case Immediate.MemArgLane:
      memArg(r);
      r.skip(1);
      break;
    case Immediate.Byte:
      r.skip(1);
      break;
    case Immediate.Bytes4:
      r.skip(4);
      break;
    case Immediate.Bytes8:
      r.skip(8);
      break;
    case Immediate.Bytes16:
      r.skip(16);
      break;
    case Immediate.S32:
      r.skipLeb(5);
      break;
    case Immediate.S64:
      r.skipLeb(10);
      break;
    case Immediate.HeapType:
      r.skipLeb(5);
      break;
    case Immediate.BrTable:
      for (let n = r.u32(); n >= 0; n--) r.u32();
      break;
    case Immediate.ValueTypes:
      for (let n = r.u32(); n > 0; n--) r.valueType();
      break;
  }
  // An unconditional branch makes the rest of the block unreachable: the stack drops to the block's base.
  return effect === UNREACHABLE ? top.base - Number.MAX_SAFE_INTEGER : effect;
}

function memArg(r: Cursor): void {
  // Bit 6 of the alignment says a memory index follows (multi-memory).
  const align = r.u32();
  if (align & 0x40) r.u32();
  r.skipLeb(10);
}
