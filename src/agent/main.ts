// First: an unsupported Node gets a sentence, not a stack from the first dependency it cannot load.
import '../common/runtime/require-supported-node';
// Second: SIGUSR1 is the counters' signal from the first moment on, never Node's inspector.
import { answerCountersSignal } from './counters-signal';
import { join } from 'node:path';
import { Agent } from './agent';
import { lockAgentDataDir } from './agent-lock';
import { ContentCache } from './content-cache';
import { standaloneEngine } from './engine';
import { HttpTransport } from './http-transport';
import { KeySunsetNotice, noticingKeySunset } from './key-sunset';
import {
  AgentSetupError,
  hasStoredNode,
  keyRefusedHint,
  loadOrCreateKeyPair,
  noVcpApiAt,
  resolveIdentity,
  ServerCertificateError,
  ServerUnreachableError,
} from './identity';
import { telemetry } from './machine';
import { nodeFetch } from './node-fetch';
import { jsonAsked, OptionsError, parseOptions, shownServer, USAGE } from './options';
import { AGENT_VERSION } from './version';
import { LineReporter, Reporter, streamLines, zeroCounters } from './reporter';
import { FORCED_EXIT_CODES, stopSignals, unlessStopped } from './stop-signals';
import { TransportError } from './transport';
import { unusableMessage } from './unusable-message';

const COUNTERS_EVERY_MS = 60_000;

// With stderr gone as well there is nowhere left to say anything; the work goes on regardless.
const stderrLine = streamLines(process.stderr, () => undefined);
/**
 * Once stdout's reader is gone (EPIPE), its lines are dropped and the agent goes on working: its runs and
 * leases matter more than the log of them, and a log shipper that restarts must not cost a node its runs.
 */
const stdoutLine = streamLines(process.stdout, (error) =>
  stderrLine(
    `vcp agent: standard output failed (${(error as NodeJS.ErrnoException).code ?? error.message}): ` +
      'its lines are dropped from now on; the agent goes on working',
  ),
);

/** `npm run agent`: a node of a VCP server on this machine. It does not boot the API. */
async function main(): Promise<number> {
  const stopRequested = stopSignals((signal) =>
    process.exit(
      exitWith(
        FORCED_EXIT_CODES[signal],
        `second ${signal}: stopped at once; running work is left to expire on the server and run again`,
      ),
    ),
  );
  const argv = process.argv.slice(2);
  let options;
  try {
    options = parseOptions(argv, process.env);
  } catch (error) {
    jsonLines = jsonAsked(argv);
    return usageError(error instanceof Error ? error.message : String(error));
  }
  jsonLines = options.json;
  if (options.help) {
    stdoutLine(USAGE);
    return 0;
  }
  if (options.printPublicKey) {
    stdoutLine(loadOrCreateKeyPair(options.dataDir).publicKeyBase64);
    return 0;
  }
  // Said before anything is written to the data dir: with no key and no stored node there is nothing to run.
  if (!options.apiKey && !hasStoredNode(options.dataDir)) {
    return usageError(`--api-key (VCP_API_KEY) is required: no node is stored in ${options.dataDir} yet`);
  }
  knownNodeId = options.nodeId;
  lockAgentDataDir(options.dataDir);
  const reporter = new LineReporter(options.json, stdoutLine);
  const resolved = await unlessStopped(resolveIdentity(options, reporter), stopRequested);
  if (resolved.stopped) return stoppedBeforeStart(reporter, options.graceMs);
  const identity = resolved.value;
  knownNodeId = identity.nodeId;
  knownApi = { server: options.server, key: identity.nodeKey };
  const { engine, warmUp, close } = standaloneEngine(options.concurrency);
  const agent = new Agent({
    nodeId: identity.nodeId,
    concurrency: options.concurrency,
    keys: identity.keys,
    transport: new HttpTransport(
      options.server,
      identity.nodeId,
      identity.nodeKey,
      noticingKeySunset(nodeFetch, new KeySunsetNotice(identity.nodeId, reporter)),
    ),
    engine,
    cache: new ContentCache(join(options.dataDir, 'cache'), options.cacheBytes),
    reporter,
    version: AGENT_VERSION,
    telemetry,
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= agent.stop(options.graceMs));
  void stopRequested.then(stop);
  answerCountersSignal(() => agent.reportCounters());
  // A stop while the first heartbeat is retried (the server down) ends it there: no "started" after "stopped".
  if ((await unlessStopped(agent.start(), stopRequested)).stopped) {
    await stop();
    await close();
    return 0;
  }
  identity.storeOnceAccepted?.();
  warmUp(agent.slots);
  reporter.emit({
    event: 'started',
    node_id: identity.nodeId,
    concurrency: agent.slots,
    public_key: identity.keys.publicKeyBase64,
    server: shownServer(options.server),
  });
  const counters = setInterval(() => agent.reportCounters(), COUNTERS_EVERY_MS);
  const unusable = await Promise.race([stopRequested.then(() => null), agent.unusable]);
  // Unusable (the agent stops itself at once): what runs now can no longer be reported, nothing is waited for.
  await (unusable ? agent.stop(0) : stop());
  clearInterval(counters);
  await close();
  if (!unusable) return 0;
  const context = {
    nodeId: identity.nodeId,
    dataDir: options.dataDir,
    publicKey: identity.keys.publicKeyBase64,
  };
  return exitWith(78, unusableMessage(unusable, context)); // EX_CONFIG
}

/** A stop before the node was known: the lines a stop ends with, and exit 0. */
function stoppedBeforeStart(reporter: Reporter, graceMs: number): number {
  reporter.emit({ event: 'stopping', running: 0, grace_ms: graceMs });
  reporter.emit({ event: 'stopped', ...zeroCounters() });
  return 0;
}

let jsonLines = false;
/** The node id once known (a flag, then the identity), for the lines of setup errors. */
let knownNodeId: string | undefined;
/** The server and node key once known, to tell a wrong URL from an unknown node. */
let knownApi: { server: string; key: string } | undefined;

/** The last word: a line on stderr, and with --json also a JSON line on stdout, so a log consumer sees why. */
function exitWith(code: number, message: string): number {
  stderrLine(`vcp agent: ${message}`);
  return exitedLine(code, message);
}

/** Bad flags (exit 64): the reason and the usage on stderr, and with --json the `exited` line. */
function usageError(message: string): number {
  stderrLine(`${message}\n${USAGE}`);
  return exitedLine(64, message); // EX_USAGE
}

let exitedWritten = false;
/** With --json, the `exited` line: once, whichever exit path comes first (a second signal during another). */
function exitedLine(code: number, message: string): number {
  if (jsonLines && !exitedWritten) {
    exitedWritten = true;
    stdoutLine(JSON.stringify({ time: new Date().toISOString(), event: 'exited', code, message }));
  }
  return code;
}

// A bug that escapes (an exception in a callback, an unhandled rejection) ends the agent with exit 1 as it
// would, but with its stack after `vcp agent:` and, with --json, an `exited` line like every other exit.
process.on('uncaughtException', (error) =>
  process.exit(exitWith(1, error instanceof Error ? (error.stack ?? error.message) : String(error))),
);

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    // Setup problems (bad flags, a refused key, an unknown node) are the operator's to fix: their message only.
    if (error instanceof TransportError && error.status === 401) {
      process.exit(exitWith(78, `${error.message}: ${keyRefusedHint(knownNodeId)}`));
    }
    // Only the first heartbeat can end a start so: a node key given with another node's id, or a deleted node.
    if (error instanceof TransportError && error.status === 404 && knownNodeId !== undefined) {
      // A URL with /api/v1 in it gets 404 for every route: said as at a first start, not as an unknown node.
      const wrongUrl = knownApi && (await noVcpApiAt(knownApi.server, knownApi.key));
      if (wrongUrl) process.exit(exitWith(78, wrongUrl));
      const hint = `the server knows no node ${knownNodeId}: give the --node-id the node key was issued for`;
      process.exit(exitWith(78, `${error.message}; ${hint}`));
    }
    if (
      error instanceof AgentSetupError ||
      error instanceof OptionsError ||
      error instanceof TransportError
    ) {
      process.exit(exitWith(78, error.message));
    }
    // The data dir, found unusable past the key (a cache dir that cannot be made, node.json not writable).
    const { code, path } = error as NodeJS.ErrnoException;
    if (typeof code === 'string' && typeof path === 'string') {
      process.exit(exitWith(78, `cannot use ${path} (${code}): give a writable --data-dir`));
    }
    if (error instanceof ServerCertificateError) process.exit(exitWith(78, error.message));
    if (error instanceof ServerUnreachableError) {
      process.exit(exitWith(69, error.message)); // EX_UNAVAILABLE: a supervisor's restart may find it up
    }
    process.exit(exitWith(1, error instanceof Error ? (error.stack ?? error.message) : String(error)));
  },
);
