import type { StructuralLimits } from './wasm.config';
import { capModule, InvalidModuleError, ModuleSummary, summarize } from './wasm-binary';
import { segmentFault } from './wasm-segments';
import { checkStructure, LimitExceededError } from './wasm-limits';

const NOT_WASM = 'is not a valid WebAssembly module';
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const hasWasmHeader = (bytes: Uint8Array) => bytes.length >= 8 && HEADER.every((b, i) => bytes[i] === b);

/**
 * What the check thread answers: the module's imports and exports, and why instantiating it would fail where
 * the binary tells (an upload and a run refuse it), or why it is refused (safe to show).
 */
export type ModuleCheck =
  { ok: true; summary: ModuleSummary; instantiationFault: string | null } | { ok: false; reason: string };

/**
 * Everything that parses a module, in the order that bounds its cost: the structural limits first (a linear
 * scan in bounded memory, before V8's validation, whose memory grows with nesting), then V8's own validation,
 * then the summary and the memory check. Runs on the check thread (module-check.worker.js), never on the
 * event loop.
 */
export function checkModule(bytes: Uint8Array, limits: StructuralLimits): ModuleCheck {
  const notWasm = { ok: false, reason: NOT_WASM } as const;
  if (!hasWasmHeader(bytes)) return notWasm;
  try {
    checkStructure(bytes, limits);
  } catch (error) {
    if (error instanceof LimitExceededError) return { ok: false, reason: error.reason };
    // V8's validation is not run on what the scan could not read (it would cost what the limits bound).
    const detail = error instanceof InvalidModuleError ? `: ${error.reason}` : '';
    return { ok: false, reason: `${NOT_WASM}${detail}` };
  }
  try {
    if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) return notWasm;
    const summary = summarize(bytes);
    // A cap of 4 GiB checks only what can never run (shared or 64-bit memories), not the configured cap.
    capModule(bytes, 4 * 1024 * 1024 * 1024);
    return { ok: true, summary, instantiationFault: segmentFault(bytes) };
  } catch (error) {
    if (error instanceof InvalidModuleError) return { ok: false, reason: error.reason };
    return notWasm;
  }
}
