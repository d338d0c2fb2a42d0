import { REPLACED_BY_HEADER, SUNSET_HEADER } from '../common/auth/key-sunset';
import { isUuid } from '../common/validation/uuid';
import type { Fetch } from './http-transport';
import type { Reporter } from './reporter';

/** While the date stays the same, the agent says it again at most this often. */
export const KEY_SUNSET_REMINDER_MS = 60 * 60 * 1000;

interface Told {
  sunset: number;
  replacedBy: string | null;
  atMs: number;
}

/**
 * The server puts `Sunset` on its answers while the node's key is ending (a rotation's grace period, an
 * expiry): the agent keeps working, and tells its operator when the key stops and how to replace it — when
 * first seen, whenever the date or the successor changes, and at most hourly in between, so the warning is in
 * the log long before the 401 that stops the agent, without a line per request.
 */
export class KeySunsetNotice {
  private told: Told | null = null;

  constructor(
    private readonly nodeId: string,
    private readonly reporter: Reporter,
    private readonly now: () => number = Date.now,
  ) {}

  /** The headers of an answer to a request made with the node's key, whatever its status. */
  seen(headers: Headers): void {
    const sunset = Date.parse(headers.get(SUNSET_HEADER) ?? '');
    if (!Number.isFinite(sunset)) return;
    const successor = headers.get(REPLACED_BY_HEADER);
    // Only an id is echoed into the log: a header is not a place to take text from.
    const replacedBy = isUuid(successor) ? successor.toLowerCase() : null;
    const now = this.now();
    const told = this.told;
    const same = told !== null && told.sunset === sunset && told.replacedBy === replacedBy;
    if (same && now - told.atMs < KEY_SUNSET_REMINDER_MS) return;
    this.told = { sunset, replacedBy, atMs: now };
    // Counted from the server's own Date where it gives one: the agent's clock may be off.
    const serverNow = Date.parse(headers.get('date') ?? '');
    this.reporter.emit({
      event: 'key_sunset',
      node_id: this.nodeId,
      sunset: new Date(sunset).toISOString(),
      in_secs: Math.max(0, Math.round((sunset - (Number.isFinite(serverNow) ? serverNow : now)) / 1000)),
      replaced_by: replacedBy,
      hint: this.wayOut(replacedBy),
    });
  }

  private wayOut(replacedBy: string | null): string {
    const issue = `POST /api/v1/nodes/${this.nodeId}/keys`;
    const restart = 'as --api-key or VCP_API_KEY (it replaces the stored one)';
    return replacedBy === null
      ? `issue the node a key (${issue}) and restart the agent with it ${restart}`
      : `restart the agent with the key that replaces it (key_id ${replacedBy}, from the answer to ${issue}) ${restart}`;
  }
}

/** `send`, with every answer's headers shown to `notice` (successes and refusals alike). */
export function noticingKeySunset(send: Fetch, notice: KeySunsetNotice): Fetch {
  return async (input, init) => {
    const res = await send(input, init);
    notice.seen(res.headers);
    return res;
  };
}
