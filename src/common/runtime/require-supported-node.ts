import { unsupportedNodeReason } from './supported-node';

/**
 * Imported first by every entry point (server, agent, CLIs), before anything that needs a newer Node is loaded:
 * an unsupported Node gets one sentence and exit code 1, not an ERR_REQUIRE_ESM stack from deep in a dependency.
 */
const reason = unsupportedNodeReason();
if (reason !== null) {
  process.stderr.write(`${reason}\n`);
  process.exit(1);
}
