import { WasmerRuntime } from './wasmer.runtime';

describe('WasmerRuntime.supportsImport', () => {
  const runtime = new WasmerRuntime({ poolSize: 1 });

  it('refuses the WASIX functions that start another module or thread (past the memory cap)', () => {
    for (const name of [
      'proc_exec',
      'proc_exec2',
      'proc_exec3',
      'proc_spawn',
      'proc_spawn2',
      'proc_fork',
      'proc_fork_env',
      'thread_spawn',
      'thread_spawn_v2',
    ]) {
      expect(runtime.supportsImport('wasix_32v1', name)).toBe(false);
      expect(runtime.supportsImport('wasix_64v1', name)).toBe(false);
    }
    // Negative control: the rest of WASIX and all of WASI preview 1 stay available.
    expect(runtime.supportsImport('wasix_32v1', 'getcwd')).toBe(true);
    expect(runtime.supportsImport('wasix_32v1', 'proc_id')).toBe(true);
    expect(runtime.supportsImport('wasi_snapshot_preview1', 'fd_write')).toBe(true);
    expect(runtime.supportsImport('env', 'anything')).toBe(false);
  });
});
