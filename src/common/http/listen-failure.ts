import { ExplainedError, SettingsError } from '../config/problems';

/** What the operator set that `listen()` could not use: told as a setting to fix (exit 78), not a crash. */
const SETTING_FAULTS: Record<string, (host: string, port: number) => string> = {
  ENOTFOUND: (host) => `HOST=${host} is not a known host name`,
  EAI_AGAIN: (host) => `HOST=${host} could not be resolved (the name service did not answer)`,
  EADDRNOTAVAIL: (host) => `HOST=${host} is not an address of this machine`,
  EACCES: (host, port) => `PORT=${port} on ${host} needs privileges this process does not have`,
};

/** The `listen()` error codes listenFailure explains (Nest's own line about them is then left out). */
export const EXPLAINED_LISTEN_CODES = [...Object.keys(SETTING_FAULTS), 'EADDRINUSE'];

/**
 * The error `listen()` failed with, as one sentence: a setting to fix (SettingsError), or, for a port already
 * taken (often the previous instance, still closing: worth a restart), an Error naming host and port.
 */
export function listenFailure(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const setting = code === undefined ? undefined : SETTING_FAULTS[code];
  if (setting) return new SettingsError(setting(host, port));
  if (code === 'EADDRINUSE')
    return new ExplainedError(`PORT=${port} on ${host} is already in use by another process`);
  return error instanceof Error ? error : new Error(String(error));
}
