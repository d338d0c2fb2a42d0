import { join } from 'node:path';
import { KEY_FILE, keyRefusedHint } from './identity';
import type { UnusableAnswer } from './server-answers';

export interface UnusableContext {
  nodeId: string;
  dataDir: string;
  publicKey: string;
}

/** The line the agent exits with (78) when the server's answer makes this node unusable: what, and the ways out. */
export function unusableMessage({ kind, error }: UnusableAnswer, at: UnusableContext): string {
  const keyFile = join(at.dataDir, KEY_FILE);
  const registerAnew =
    `delete node ${at.nodeId} and register it again with this agent's public key ${at.publicKey} ` +
    `(or remove node.json from ${at.dataDir} and start with a user key holding nodes:write)`;
  switch (kind) {
    case 'key_refused':
      return `the server refused node ${at.nodeId}'s key (${error.message}); ${keyRefusedHint(at.nodeId)}`;
    case 'signature_invalid':
      return (
        `the server refuses node ${at.nodeId}'s results: the key pair in ${keyFile} is not the one the node ` +
        `registered (${error.message}); restore the node's original ${keyFile}, or ${registerAnew}`
      );
    case 'data_dir_unusable': {
      const { code, path } = error as NodeJS.ErrnoException;
      return (
        `node ${at.nodeId} cannot use ${path ?? at.dataDir} (${code ?? error.message}) to run what it is leased: ` +
        'give a writable --data-dir with room for its cache (the run was handed back, its task queued again)'
      );
    }
    case 'no_public_key':
      return (
        `node ${at.nodeId} registered no public key, so the server gives it no work (${error.message}); ` +
        registerAnew
      );
  }
}
