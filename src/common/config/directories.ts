import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** A directory a feature creates (when missing) or uses at boot: the config check looks at it first. */
export interface DirectoryUse {
  /** The variable that names it. */
  readonly variable: string;
  readonly path: string;
  /** Written to (uploads, caches, the database); else only read. */
  readonly write: boolean;
  /** The variable is unset: the path is its default under DATA_DIR. */
  readonly isDefault?: boolean;
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? 'error';

/** Kernel file systems (statfs magic numbers) that hold no directories or files of ours. */
const KERNEL_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x1cd1, 'devpts'],
]);

function kernelFileSystem(path: string): string | undefined {
  try {
    return KERNEL_FILE_SYSTEMS.get(statfsSync(path).type);
  } catch {
    return undefined; // no statfs here: access() alone decides
  }
}

/**
 * What would keep a directory from being created or used at boot, found without creating anything (the check
 * must not change the disk; the feature creates it later): an existing path must be a directory it can use, a
 * missing one must lie below a directory it can write. Paths are said in full: they are not secrets.
 */
export function directoryProblem({ variable, path, write }: DirectoryUse): string | null {
  let existing = path;
  for (;;) {
    try {
      if (statSync(existing).isDirectory()) break;
      return existing === path
        ? `${variable}: ${path} is not a directory`
        : `${variable}: cannot create ${path}: ${existing} is not a directory`;
    } catch (error) {
      const code = codeOf(error);
      // ENOTDIR: a file on the way; the walk up finds it and says which.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(existing) === existing) {
        return `${variable}: cannot use ${path} (${code})`;
      }
      existing = dirname(existing);
    }
  }
  const created = existing !== path;
  // access() grants root W_OK on /proc and /sys, where nothing can be made: there Node's recursive mkdir
  // never returns (mkdir says ENOENT though the parent exists), so such a path is refused before.
  const kernel = created || write ? kernelFileSystem(existing) : undefined;
  if (kernel)
    return created
      ? `${variable}: cannot create ${path}: ${existing} is on ${kernel}, a kernel file system`
      : `${variable}: ${path} is not writable: it is on ${kernel}, a kernel file system`;
  try {
    accessSync(
      existing,
      created || write ? constants.W_OK | constants.X_OK : constants.R_OK | constants.X_OK,
    );
    return null;
  } catch (error) {
    const code = codeOf(error);
    if (created) return `${variable}: cannot create ${path}: ${existing} is not writable (${code})`;
    return `${variable}: ${path} is not ${write ? 'writable' : 'readable'} (${code})`;
  }
}

/** One problem per unusable directory; a default under a DATA_DIR already refused is not said again. */
export function directoryProblems(uses: readonly DirectoryUse[]): string[] {
  const problems = uses.map((use) => ({ use, problem: directoryProblem(use) }));
  const dataDirRefused = problems.some(({ use, problem }) => use.variable === 'DATA_DIR' && problem);
  return problems
    .filter(({ use, problem }) => problem && !(dataDirRefused && use.isDefault))
    .map(({ problem }) => problem as string);
}
