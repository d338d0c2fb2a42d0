import type { StructuralLimits } from './wasm.config';
import { capMemory, InvalidModuleError, ModuleSummary, summarize } from './wasm-binary';
import { checkStructure } from './wasm-limits';

/** What the check thread answers: the module's imports and exports, or why it is refused (safe to show). */
export type ModuleCheck = { ok: true; summary: ModuleSummary } | { ok: false; reason: string };

/**
 * Everything that parses a module, in the order that bounds its cost: the structural limits first (a linear
 * scan in bounded memory, before V8's validation, whose memory grows with nesting), then V8's own validation,
 * then the summary and the memory check. Runs on the check thread (module-check.worker.js), never on the
 * event loop.
 */
export function checkModule(bytes: Uint8Array, limits: StructuralLimits): ModuleCheck {
  try {
    if (bytes.length === 0) throw new InvalidModuleError('is not a valid WebAssembly module');
    checkStructure(bytes, limits);
    if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) {
      throw new InvalidModuleError('is not a valid WebAssembly module');
    }
    const summary = summarize(bytes);
    // A cap of 4 GiB checks only what can never run (shared or 64-bit memories), not the configured cap.
    capMemory(bytes, 4 * 1024 * 1024 * 1024);
    return { ok: true, summary };
  } catch (error) {
    if (error instanceof InvalidModuleError) return { ok: false, reason: error.reason };
    // Input the scan could not make sense of (a name that is not UTF-8, …) is simply not a module we accept.
    return { ok: false, reason: 'is not a valid WebAssembly module' };
  }
}
