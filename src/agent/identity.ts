import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { makeDirectories } from '../common/fs/make-directories';
import { writePrivateFile } from '../common/fs/private-file';
import { generateNodeKeyPair, keyPairFromPem, NodeKeyPair, privateKeyPem } from '../common/receipts/receipt';
import type { Fetch } from './http-transport';
import { networkFailure, nodeFetch, redirectedTo } from './node-fetch';
import { certificateProblem } from './tls-failure';
import { measureCapabilities } from './machine';
import { NODE_ID, shownServer } from './options';
import { Reporter } from './reporter';

export const KEY_FILE = 'node-key.pem';
const NODE_FILE = 'node.json';

/** Whether an earlier start stored this data dir's node and key (then no --api-key is needed). */
export const hasStoredNode = (dataDir: string): boolean => existsSync(join(dataDir, NODE_FILE));

export interface NodeIdentity {
  nodeId: string;
  nodeKey: string;
  keys: NodeKeyPair;
  /** Stores a node key given with --node-id, once the server accepted a heartbeat (main.ts). */
  storeOnceAccepted?: () => void;
}

export class AgentSetupError extends Error {}

/** A refusal's message and each field it names (`Request validation failed (node_id: …)`): what to change. */
function refusalWords(json: Record<string, unknown>): string {
  const message = typeof json.message === 'string' ? json.message : '';
  const details = (Array.isArray(json.details) ? (json.details as unknown[]) : []).flatMap((detail) => {
    const { field, message: why } = (detail ?? {}) as Record<string, unknown>;
    return typeof field === 'string' && typeof why === 'string' ? [`${field}: ${why}`] : [];
  });
  return details.length > 0 ? `${message} (${details.join('; ')})` : message;
}

/** The server did not answer at all (down, a wrong address, TLS against plain HTTP): worth a retry later. */
export class ServerUnreachableError extends Error {}

/**
 * The server answered with a TLS certificate this machine does not accept: no answer either (a stored node
 * waits for the server as it would), but at a first start the operator's to fix, not a restart's (exit 78).
 */
export class ServerCertificateError extends ServerUnreachableError {}

/** A key file readable by others (copied with 0644, unpacked from a backup) is made private again. */
function keepPrivate(path: string): void {
  try {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch {
    // Not ours to change (another owner, a read-only mount): reading it is still possible, and enough.
  }
}

const AGENT_KEY_WAY_OUT =
  'restore it from a backup, or remove it and node.json next to it to register a new node with a new key pair';

/**
 * The node's Ed25519 key pair, generated on first start and kept in the data dir (private key 0600).
 * `wayOut`: what to do about a damaged key file, for the one line that names it.
 */
export function loadOrCreateKeyPair(dataDir: string, wayOut = AGENT_KEY_WAY_OUT): NodeKeyPair {
  try {
    makeDirectories(dataDir, 0o700);
    const path = join(dataDir, KEY_FILE);
    if (existsSync(path)) {
      keepPrivate(path);
      return storedKeyPair(path, readFileSync(path, 'utf8'), wayOut);
    }
    // The stored node was registered with the lost pair's public key: a new pair's results would be refused as
    // signed by another key, each spending an attempt of someone's task, so the loss is said before any claim.
    if (hasStoredNode(dataDir)) {
      throw new AgentSetupError(
        `${path} is missing, but ${join(dataDir, NODE_FILE)} holds the node registered with its public key: ` +
          'restore the key file from a backup, or remove node.json to register a new node with a new key pair',
      );
    }
    const pair = generateNodeKeyPair();
    writePrivateFile(path, privateKeyPem(pair));
    return pair;
  } catch (error) {
    if (error instanceof AgentSetupError) throw error;
    // Not writable, a file in the way, a read-only file system: the operator's to fix, said in one line.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    throw new AgentSetupError(`cannot use the data dir ${dataDir} (${code}): give a writable --data-dir`);
  }
}

/**
 * The key pair the node registered: a file that no longer holds one (truncated, edited, another kind of key)
 * is said as such. It is not replaced: the server knows the node by its public key, so a new pair means a new
 * registration.
 */
function storedKeyPair(path: string, pem: string, wayOut: string): NodeKeyPair {
  try {
    return keyPairFromPem(pem);
  } catch {
    throw new AgentSetupError(`${path} does not hold an Ed25519 private key (PEM): ${wayOut}`);
  }
}

/** The node and key an earlier start stored; a damaged file (cut short, edited) is said as such. */
function storedNode(path: string): { node_id: string; node_api_key: string } {
  let stored: unknown;
  keepPrivate(path);
  try {
    stored = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new AgentSetupError(`cannot read ${path} (${code})`);
    if (!(error instanceof SyntaxError)) throw error;
  }
  const { node_id, node_api_key } = (stored ?? {}) as Record<string, unknown>;
  if (
    typeof node_id === 'string' &&
    NODE_ID.test(node_id) &&
    typeof node_api_key === 'string' &&
    node_api_key
  ) {
    return { node_id, node_api_key };
  }
  throw new AgentSetupError(
    `${path} is damaged (not {"node_id", "node_api_key"}): restore it, or remove it to register again with ` +
      'a user key (--api-key), or give the node key with --api-key and --node-id',
  );
}

/** What a refused key means, and the ways out, for the line the agent exits with. */
export const keyRefusedHint = (nodeId: string | undefined): string =>
  "it is revoked, expired or mistyped, its node's key was rotated, or its owner's account is disabled: issue " +
  `the node a key (POST /api/v1/nodes/${nodeId ?? '<node_id>'}/keys) and give it with --api-key; if the node ` +
  'was deleted or rejected (that route then answers 404), remove node.json from the data dir to register a new ' +
  'node with a user key';

/** A refused key while no node is stored: there is no node.json to remove, and no node key unless --node-id. */
const firstKeyRefusedHint = (nodeId: string | undefined): string =>
  'it is revoked, expired or mistyped: give a user API key with nodes:write to register this node' +
  (nodeId ? `, or a key issued to node ${nodeId} (POST /api/v1/nodes/${nodeId}/keys)` : '');

/**
 * A key the server refuses (401) beside a stored node: most likely a rotated node key mistyped, which would
 * otherwise go unnoticed until the stored key's grace ends. Given as --api-key for this start, it stops the
 * start; from VCP_API_KEY, often a registration's user key left in a unit file and revoked since, it is said
 * and the stored key used, so an unrelated revocation does not keep a working node from restarting.
 */
function refusedGivenKey(options: IdentityOptions, nodeFile: string, reporter: Reporter): void {
  const name = options.apiKeyFromEnv ? 'VCP_API_KEY' : '--api-key';
  const refused = `the server refused the ${name} given (401): it is revoked, expired or mistyped`;
  if (!options.apiKeyFromEnv) {
    throw new AgentSetupError(
      `${refused}; give the node's current key, or leave --api-key out to start with the one in ${nodeFile}`,
    );
  }
  reporter.emit({
    event: 'refused',
    during: 'start',
    status: 401,
    message: `${refused}; starting with the node key stored in ${nodeFile}`,
  });
}

/** A node id from the host name: the allowed characters only, at most 64. */
export function nodeIdFromHost(host = hostname()): string {
  const cleaned = host
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return cleaned || 'vcp-node';
}

export interface IdentityOptions {
  server: string;
  apiKey: string | undefined;
  /** The key came from VCP_API_KEY (default: --api-key): a refused one is said, not fatal, with a stored node. */
  apiKeyFromEnv?: boolean;
  nodeId: string | undefined;
  dataDir: string;
  region: string;
  /** What sends the requests (default: nodeFetch). */
  fetch?: Fetch;
}

async function request(
  send: Fetch,
  server: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const url = `${server.replace(/\/+$/, '')}/api/v1${path}`;
  let res: Response;
  try {
    res = await send(url, {
      method,
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const certificate = certificateProblem((error as { cause?: { code?: unknown } }).cause?.code);
    if (certificate) {
      throw new ServerCertificateError(`refused the server at ${shownServer(server)}: ${certificate}`);
    }
    throw new ServerUnreachableError(
      `cannot reach the server at ${shownServer(server)} (${networkFailure(error)})`,
    );
  }
  if (res.status >= 300 && res.status < 400) {
    throw new AgentSetupError(`the server at ${shownServer(server)} answered ${redirectedTo(res)}`);
  }
  // A proxy whose server is down (502, 503) or a throttled start: not the key's fault, and a restart may pass.
  if (res.status >= 500 || res.status === 429) {
    throw new ServerUnreachableError(
      `the server at ${shownServer(server)} answered ${res.status} to ${method} /api/v1${path}: try again later`,
    );
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: res.status, json };
}

/** What a 404 to the key check means: no VCP API at this URL (most often, /api/v1 given with it). */
const noVcpApi = (server: string) =>
  `no VCP API at ${shownServer(server)} (404): give the server's base URL, such as http://host:3000, ` +
  'without /api/v1';

/**
 * Why a stored node's first heartbeat was a 404, when its URL is the cause: the key check, which every VCP
 * server answers, is a 404 there too. Null when it is not, or cannot be told (then the node is the unknown).
 */
export async function noVcpApiAt(
  server: string,
  key: string,
  send: Fetch = nodeFetch,
): Promise<string | null> {
  try {
    const { status } = await request(send, server, key, 'GET', '/auth/api-key/validate');
    return status === 404 ? noVcpApi(server) : null;
  } catch (error) {
    if (error instanceof ServerUnreachableError || error instanceof AgentSetupError) return null;
    throw error;
  }
}

/**
 * What `key` is, as far as a server that answers now can tell: a node key (refused, 403, on every route but its
 * node's agent routes, key validation included), a user key, a key refused (401), or unknown. A restart while
 * the server is down, failing (5xx) or throttling keeps the stored key: the agent then waits for the server as
 * it does for any call, where exiting would leave a node without a supervisor stopped. (A rotated key given
 * then is taken at a later start: the stored one works through the rotation's grace period.)
 */
async function keyKindIfAnswered(
  send: Fetch,
  server: string,
  key: string,
): Promise<'node' | 'user' | 'refused' | 'unknown'> {
  try {
    const { status } = await request(send, server, key, 'GET', '/auth/api-key/validate');
    return status === 403 ? 'node' : status === 401 ? 'refused' : status === 200 ? 'user' : 'unknown';
  } catch (error) {
    if (error instanceof ServerUnreachableError) return 'unknown';
    throw error;
  }
}

/**
 * Who this agent is. A stored node key (from an earlier start) is used, unless `--api-key` is another node key
 * (it replaces the stored one). Otherwise `--api-key` is either
 * a user key with `nodes:write` — the agent registers its node with its public key and capabilities and
 * stores the node key it gets (0600), using only that from then on — or a node key, used for `--node-id`.
 */
export async function resolveIdentity(options: IdentityOptions, reporter: Reporter): Promise<NodeIdentity> {
  const keys = loadOrCreateKeyPair(options.dataDir);
  const nodeFile = join(options.dataDir, NODE_FILE);
  const send = options.fetch ?? nodeFetch;
  if (existsSync(nodeFile)) {
    const stored = storedNode(nodeFile);
    // One data dir is one node (its key pair, its key): another id here would register a second node with
    // this key pair and overwrite node.json, stranding the first.
    if (options.nodeId !== undefined && options.nodeId !== stored.node_id) {
      throw new AgentSetupError(
        `the data dir ${options.dataDir} belongs to node ${stored.node_id}: give --node-id ${stored.node_id}, ` +
          `or another --data-dir for node ${options.nodeId}`,
      );
    }
    // Another node key given (rotated, or the node registered again) replaces the stored one; the user key
    // of the first registration, often left in the environment, does not.
    const given = options.apiKey;
    const kind =
      given && given !== stored.node_api_key && (await keyKindIfAnswered(send, options.server, given));
    if (given && kind === 'node') {
      writePrivateFile(nodeFile, JSON.stringify({ node_id: stored.node_id, node_api_key: given }));
      return { nodeId: stored.node_id, nodeKey: given, keys };
    }
    if (kind === 'refused') refusedGivenKey(options, nodeFile, reporter);
    return { nodeId: stored.node_id, nodeKey: stored.node_api_key, keys };
  }
  if (!options.apiKey) {
    throw new AgentSetupError('no node key stored in the data dir: give --api-key (VCP_API_KEY)');
  }
  if (options.nodeId !== undefined && !NODE_ID.test(options.nodeId)) {
    throw new AgentSetupError('--node-id must be 1–64 ASCII letters, digits, "-" or "_"');
  }
  const who = await request(send, options.server, options.apiKey, 'GET', '/auth/api-key/validate');
  let identity: NodeIdentity;
  if (who.status === 200) {
    if (!(who.json.scopes as string[] | undefined)?.includes('nodes:write')) {
      throw new AgentSetupError('the API key lacks nodes:write: it cannot register a node');
    }
    const nodeId = options.nodeId ?? nodeIdFromHost();
    // Safe to repeat: the server answers a repeat of this exact registration (same public key) with a fresh
    // key as long as the node's key has not been used, so a lost answer does not strand the node.
    const registered = await request(send, options.server, options.apiKey, 'POST', '/nodes', {
      node_id: nodeId,
      region: options.region,
      node_type: 'compute',
      capabilities: measureCapabilities(),
      public_key: keys.publicKeyBase64,
    });
    if (registered.status !== 201) {
      // A node id taken already (the default comes from the host name, which other machines may share).
      const taken =
        registered.status === 409 && options.nodeId === undefined ? '; name it with --node-id' : '';
      throw new AgentSetupError(
        `registering node ${nodeId} failed: ${registered.status} ${refusalWords(registered.json)}${taken}`,
      );
    }
    const nodeKey = registered.json.node_api_key;
    // Stored as given, a missing key would be "undefined": refused (401) at this and every later start.
    if (typeof nodeKey !== 'string' || nodeKey === '') {
      throw new AgentSetupError(`registering node ${nodeId}: the answer holds no node_api_key`);
    }
    identity = { nodeId, nodeKey, keys };
    reporter.emit({ event: 'registered', node_id: nodeId, data_dir: options.dataDir });
  } else if (who.status === 403) {
    // A node key is refused on every route but its node's agent routes: it is one, for the node named.
    if (!options.nodeId) throw new AgentSetupError('with a node key, give its node with --node-id');
    const given = { node_id: options.nodeId, node_api_key: options.apiKey };
    // Not stored yet: a mistyped --node-id (its heartbeat a 404) must not tie the data dir to a node that
    // does not exist, refusing the corrected id at the next start.
    return {
      nodeId: given.node_id,
      nodeKey: given.node_api_key,
      keys,
      storeOnceAccepted: () => writePrivateFile(nodeFile, JSON.stringify(given)),
    };
  } else if (who.status === 404) {
    throw new AgentSetupError(noVcpApi(options.server));
  } else if (who.status === 401) {
    throw new AgentSetupError(`the server refused the API key (401): ${firstKeyRefusedHint(options.nodeId)}`);
  } else {
    throw new AgentSetupError(`the server refused the API key (${who.status})`);
  }
  writePrivateFile(nodeFile, JSON.stringify({ node_id: identity.nodeId, node_api_key: identity.nodeKey }));
  return identity;
}
