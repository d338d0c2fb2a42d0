import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fetch } from './http-transport';
import {
  AgentSetupError,
  loadOrCreateKeyPair,
  resolveIdentity,
  ServerCertificateError,
  ServerUnreachableError,
} from './identity';

const silent = { emit: () => undefined };
/** How nodeFetch fails against a server whose certificate is self-signed. */
const selfSigned: Fetch = () =>
  Promise.reject(new TypeError('fetch failed', { cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' } }));

/** Answers key validation: 200 for the user key, 403 for any other (a node key), and records the calls. */
function validating(userKey: string) {
  const calls: string[] = [];
  const send: Fetch = (input, init) => {
    calls.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const key = new Headers(init?.headers).get('x-api-key');
    const status = key === userKey ? 200 : 403;
    return Promise.resolve(new Response(JSON.stringify({ scopes: ['nodes:write'] }), { status }));
  };
  return { send, calls };
}

describe('resolveIdentity with a node key stored in the data dir', () => {
  let dataDir: string;
  const stored = { node_id: 'n1', node_api_key: 'vcp_stored_node_key' };

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'vcp-identity-'));
    loadOrCreateKeyPair(dataDir); // the pair the node was registered with
    writeFileSync(join(dataDir, 'node.json'), JSON.stringify(stored));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const resolve = (apiKey: string | undefined, send: Fetch) =>
    resolveIdentity(
      { server: 'http://server', apiKey, nodeId: 'n1', dataDir, region: 'r', fetch: send },
      silent,
    );

  it('uses the stored key when --api-key is the user key of the first registration, or absent', async () => {
    const { send, calls } = validating('vcp_user_key');
    expect((await resolve('vcp_user_key', send)).nodeKey).toBe(stored.node_api_key);
    expect((await resolve(undefined, send)).nodeKey).toBe(stored.node_api_key);
    expect((await resolve(stored.node_api_key, send)).nodeKey).toBe(stored.node_api_key);
    expect(calls).toHaveLength(1); // only the user key needed a look
    expect(JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'))).toEqual(stored);
  });

  it('takes another node key given with --api-key (rotated) and stores it in place of the old one', async () => {
    const { send } = validating('vcp_user_key');
    const identity = await resolve('vcp_rotated_node_key', send);
    expect(identity).toMatchObject({ nodeId: 'n1', nodeKey: 'vcp_rotated_node_key' });
    expect(JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'))).toEqual({
      node_id: 'n1',
      node_api_key: 'vcp_rotated_node_key',
    });
  });

  it('replaces node.json by a rename (never truncated in place, which a crash could leave empty)', async () => {
    const nodeFile = join(dataDir, 'node.json');
    const before = statSync(nodeFile).ino;
    await resolve('vcp_rotated_node_key', validating('vcp_user_key').send);
    // A new file renamed over the old one: the old inode is gone, no temp file is left, the mode is 0600.
    expect(statSync(nodeFile).ino).not.toBe(before);
    expect(statSync(nodeFile).mode & 0o777).toBe(0o600);
    expect(readdirSync(dataDir).sort()).toEqual(['node-key.pem', 'node.json']);
  });

  it('makes a stored key file or node.json readable by others private again (0600)', async () => {
    await resolve(undefined, validating('vcp_user_key').send);
    for (const name of ['node-key.pem', 'node.json']) chmodSync(join(dataDir, name), 0o644);
    await resolve(undefined, validating('vcp_user_key').send);
    for (const name of ['node-key.pem', 'node.json']) {
      expect(statSync(join(dataDir, name)).mode & 0o777).toBe(0o600);
    }
  });

  it('keeps the stored key when the server cannot say what another key is (down, 5xx, 429): it starts', async () => {
    const refused: Fetch = () =>
      Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));
    const failing =
      (status: number): Fetch =>
      () =>
        Promise.resolve(new Response('{}', { status }));
    for (const send of [refused, selfSigned, failing(503), failing(502), failing(429)]) {
      expect((await resolve('vcp_user_key', send)).nodeKey).toBe(stored.node_api_key);
    }
    expect(JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'))).toEqual(stored);
    // A redirect is a wrong --server, not a server that is away: said, as at a first start.
    const redirect: Fetch = () =>
      Promise.resolve(new Response(null, { status: 301, headers: { location: 'https://server/' } }));
    await expect(resolve('vcp_user_key', redirect)).rejects.toBeInstanceOf(AgentSetupError);
  });

  it('a refused --api-key (401: a rotated key mistyped) stops the start; from VCP_API_KEY it is said', async () => {
    const refusing: Fetch = () => Promise.resolve(new Response('{}', { status: 401 }));
    const nodeFile = join(dataDir, 'node.json');
    await expect(resolve('vcp_typo', refusing)).rejects.toThrow(
      new AgentSetupError(
        'the server refused the --api-key given (401): it is revoked, expired or mistyped; give the ' +
          `node's current key, or leave --api-key out to start with the one in ${nodeFile}`,
      ),
    );
    // A variable outlives the start it was set for (a registration's user key, revoked since): said, not fatal.
    const events: unknown[] = [];
    const fromEnv = await resolveIdentity(
      {
        server: 'http://s',
        apiKey: 'vcp_old',
        apiKeyFromEnv: true,
        nodeId: 'n1',
        dataDir,
        region: 'r',
        fetch: refusing,
      },
      { emit: (event) => events.push(event) },
    );
    expect(fromEnv.nodeKey).toBe(stored.node_api_key);
    expect(events).toEqual([
      {
        event: 'refused',
        during: 'start',
        status: 401,
        message:
          'the server refused the VCP_API_KEY given (401): it is revoked, expired or mistyped; starting with ' +
          `the node key stored in ${nodeFile}`,
      },
    ]);
    expect(JSON.parse(readFileSync(nodeFile, 'utf8'))).toEqual(stored);
  });

  it('refuses another --node-id: the data dir is its node (a second registration would strand the first)', async () => {
    const { send, calls } = validating('vcp_user_key');
    const other = resolveIdentity(
      { server: 'http://server', apiKey: 'vcp_user_key', nodeId: 'n2', dataDir, region: 'r', fetch: send },
      silent,
    );
    await expect(other).rejects.toThrow(`the data dir ${dataDir} belongs to node n1`);
    expect(calls).toEqual([]);
    expect(JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'))).toEqual(stored);
  });

  it('refuses to start when the key file is gone: never a new key pair the node was not registered with', async () => {
    const keyFile = join(dataDir, 'node-key.pem');
    rmSync(keyFile);
    const { send, calls } = validating('vcp_user_key');
    const error = (await resolve(undefined, send).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(AgentSetupError);
    expect(error.message).toBe(
      `${keyFile} is missing, but ${join(dataDir, 'node.json')} holds the node registered with its public key: ` +
        'restore the key file from a backup, or remove node.json to register a new node with a new key pair',
    );
    expect(() => loadOrCreateKeyPair(dataDir)).toThrow(error.message); // --print-public-key too
    expect({ files: readdirSync(dataDir), calls }).toEqual({ files: ['node.json'], calls: [] });
  });

  it('names a damaged node.json in one line (AgentSetupError), not a JSON stack', async () => {
    const { send } = validating('vcp_user_key');
    for (const text of ['', '{"node_id": "n1", "node_api', '{"node_id": "n1"}', 'null']) {
      writeFileSync(join(dataDir, 'node.json'), text);
      const error = (await resolve(undefined, send).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(AgentSetupError);
      expect(error.message).toContain(`${join(dataDir, 'node.json')} is damaged`);
    }
  });
});

describe('resolveIdentity without a stored node', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-identity-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const answering =
    (status: number): Fetch =>
    () =>
      Promise.resolve(new Response('{}', { status }));
  const resolve = (send: Fetch, dir = dataDir, server = 'http://server/api/v1') =>
    resolveIdentity(
      {
        server,
        apiKey: 'vcp_k',
        nodeId: 'n1',
        dataDir: dir,
        region: 'r',
        fetch: send,
      },
      silent,
    );

  it('says plainly when the server cannot be reached to register the node', async () => {
    const refused: Fetch = () =>
      Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }));
    const error = (await resolve(refused).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ServerUnreachableError);
    expect(error.message).toBe('cannot reach the server at http://server/api/v1 (ECONNREFUSED)');
    await expect(resolve(answering(503))).rejects.toBeInstanceOf(ServerUnreachableError);
  });

  it('says a TLS certificate it does not trust is one (exit 78), and the way out: NODE_EXTRA_CA_CERTS', async () => {
    const error = (await resolve(selfSigned).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ServerCertificateError);
    expect(error.message).toBe(
      "refused the server at http://server/api/v1: DEPTH_ZERO_SELF_SIGNED_CERT: the server's TLS certificate " +
        "is not trusted here (self-signed, or from a CA this machine does not know): give that CA's " +
        'certificate to the agent as NODE_EXTRA_CA_CERTS=<ca.pem>',
    );
  });

  it('says what a 404 and a 401 mean instead of blaming the key for a wrong URL', async () => {
    await expect(resolve(answering(404))).rejects.toThrow(
      "no VCP API at http://server/api/v1 (404): give the server's base URL",
    );
    await expect(resolve(answering(401))).rejects.toThrow('POST /api/v1/nodes/n1/keys');
  });

  it('a registration answered without a node key stores nothing (no "undefined" key refused at every start)', async () => {
    const send: Fetch = (input) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      return Promise.resolve(
        url.endsWith('/nodes')
          ? new Response(JSON.stringify({ node_id: 'n1' }), { status: 201 })
          : new Response(JSON.stringify({ scopes: ['nodes:write'] }), { status: 200 }),
      );
    };
    await expect(resolve(send, dataDir, 'http://server')).rejects.toThrow(
      new AgentSetupError('registering node n1: the answer holds no node_api_key'),
    );
    expect(readdirSync(dataDir)).not.toContain('node.json');
  });

  it('a refused registration says which field the server refused and why', async () => {
    const send: Fetch = (input) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const refusal = {
        error: 'validation_error',
        message: 'Request validation failed',
        details: [{ field: 'node_id', message: 'node ids "embedded-<n>" are reserved' }],
      };
      return Promise.resolve(
        url.endsWith('/nodes')
          ? new Response(JSON.stringify(refusal), { status: 422 })
          : new Response(JSON.stringify({ scopes: ['nodes:write'] }), { status: 200 }),
      );
    };
    await expect(resolve(send, dataDir, 'http://server')).rejects.toThrow(
      new AgentSetupError(
        'registering node n1 failed: 422 Request validation failed (node_id: node ids "embedded-<n>" are reserved)',
      ),
    );
  });

  it('a node id taken already, derived from the host name, points to --node-id', async () => {
    const send: Fetch = (input) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const taken = { error: 'conflict', message: 'Node is already registered' };
      return Promise.resolve(
        url.endsWith('/nodes')
          ? new Response(JSON.stringify(taken), { status: 409 })
          : new Response(JSON.stringify({ scopes: ['nodes:write'] }), { status: 200 }),
      );
    };
    const options = {
      server: 'http://server',
      apiKey: 'vcp_k',
      nodeId: undefined,
      dataDir,
      region: 'r',
      fetch: send,
    };
    const derived = (await resolveIdentity(options, silent).catch((e: unknown) => e)) as Error;
    expect(derived.message).toMatch(/failed: 409 Node is already registered; name it with --node-id$/);
    // Named by the operator already: no such hint.
    const named = (await resolveIdentity({ ...options, nodeId: 'n1' }, silent).catch(
      (e: unknown) => e,
    )) as Error;
    expect(named.message).toBe('registering node n1 failed: 409 Node is already registered');
  });

  it('stores a node key given with --node-id only once the server accepted a heartbeat', async () => {
    const identity = await resolve(answering(403), dataDir, 'http://server');
    expect(identity).toMatchObject({ nodeId: 'n1', nodeKey: 'vcp_k' });
    // A mistyped id (its first heartbeat a 404) leaves nothing that would refuse the corrected one.
    expect(readdirSync(dataDir)).not.toContain('node.json');
    identity.storeOnceAccepted!();
    expect(JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'))).toEqual({
      node_id: 'n1',
      node_api_key: 'vcp_k',
    });
  });

  it('a refused first key names the key to give, not a node.json there is none of', async () => {
    const refused = resolveIdentity(
      {
        server: 'http://server',
        apiKey: 'vcp_k',
        nodeId: undefined,
        dataDir,
        region: 'r',
        fetch: answering(401),
      },
      silent,
    );
    await expect(refused).rejects.toThrow(
      'the server refused the API key (401): it is revoked, expired or mistyped: give a user API key with ' +
        'nodes:write to register this node',
    );
    await expect(refused).rejects.not.toThrow('node.json');
  });

  it('never prints a password the server URL carries (basic auth for a proxy), but does send it', async () => {
    const sent: string[] = [];
    const failing: Fetch = (url) => {
      sent.push(typeof url === 'string' ? url : url instanceof URL ? url.href : url.url);
      return Promise.reject(new TypeError('fetch failed'));
    };
    const secret = 'http://proxyuser:s3cret@server:3000';
    const unreachable = (await resolve(failing, dataDir, secret).catch((e: unknown) => e)) as Error;
    expect(unreachable.message).toContain('http://proxyuser:***@server:3000');
    expect(unreachable.message).not.toContain('s3cret');
    expect(sent[0]).toContain('s3cret');
    const notApi = (await resolve(answering(404), dataDir, secret).catch((e: unknown) => e)) as Error;
    expect(notApi.message).toContain('no VCP API at http://proxyuser:***@server:3000 (404)');
    expect(notApi.message).not.toContain('s3cret');
  });

  it('names a damaged key file in one line (AgentSetupError), without blaming the dir', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    for (const text of ['', 'not a key', String(rsa)]) {
      writeFileSync(join(dataDir, 'node-key.pem'), text);
      const error = (await resolve(answering(200)).catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(AgentSetupError);
      expect(error.message).toContain(
        `${join(dataDir, 'node-key.pem')} does not hold an Ed25519 private key`,
      );
      expect(error.message).not.toContain('writable');
    }
  });

  it('says the way out its caller gives for a damaged key file (the embedded node has no node.json)', () => {
    writeFileSync(join(dataDir, 'node-key.pem'), 'not a key');
    expect(() => loadOrCreateKeyPair(dataDir, 'remove it and restart')).toThrow(
      new AgentSetupError(
        `${join(dataDir, 'node-key.pem')} does not hold an Ed25519 private key (PEM): remove it and restart`,
      ),
    );
  });

  it('names an unusable data dir in one line (AgentSetupError), not a stack', async () => {
    const file = join(dataDir, 'a-file');
    writeFileSync(file, 'x');
    const error = (await resolve(answering(200), join(file, 'agent')).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(AgentSetupError);
    expect(error.message).toBe(
      `cannot use the data dir ${join(file, 'agent')} (ENOTDIR): give a writable --data-dir`,
    );
  });
});
