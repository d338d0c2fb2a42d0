import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism, freemem, loadavg, totalmem } from 'node:os';

export interface Capabilities {
  bandwidth_mbps: number;
  cpu_cores: number;
  memory_gb: number;
  gpu_available: boolean;
}

/** Whether the machine shows a GPU device node (NVIDIA, or a DRM render node); false where it cannot tell. */
function hasGpu(): boolean {
  try {
    if (existsSync('/dev/nvidia0')) return true;
    return existsSync('/dev/dri') && readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
  } catch {
    return false; // no /dev to read (another OS): no GPU we can tell of
  }
}

/**
 * The node's capabilities, measured rather than typed in: cores, memory and GPU presence from the OS.
 * Bandwidth cannot be measured without a transfer to measure, so the nominal 100 Mbit/s (the health score's
 * "full bandwidth") stands in for it.
 */
export function measureCapabilities(): Capabilities {
  return {
    bandwidth_mbps: 100,
    cpu_cores: Math.min(1024, Math.max(1, availableParallelism())),
    memory_gb: Math.max(0.1, Math.round((totalmem() / 1024 ** 3) * 10) / 10),
    gpu_available: hasGpu(),
  };
}

const percent = (value: number) => Math.round(Math.min(100, Math.max(0, value)) * 100) / 100;

/** CPU (one-minute load over cores) and memory use, as heartbeat telemetry. */
export function telemetry(): { cpu_usage: number; memory_usage: number } {
  return {
    cpu_usage: percent((loadavg()[0] / Math.max(1, availableParallelism())) * 100),
    memory_usage: percent((1 - freemem() / totalmem()) * 100),
  };
}

/** Default slots: cores − 1 (one left for the agent's own loop and the machine), at least 1. */
export const defaultConcurrency = () => Math.max(1, availableParallelism() - 1);
