import type { KeySunset } from './key-sunset';
import type { Role, Scope } from './scopes';

/** Who is calling, as established by the authentication guard. Never carries a secret. */
export interface Principal {
  userId: string;
  username: string;
  role: Role;
  scopes: readonly Scope[];
  authMethod: 'jwt' | 'api_key';
  /** An access token's epoch claim (JWT only): a request outliving its check compares it again (CredentialCheck). */
  accessTokenEpoch?: number;
  keyId?: string;
  /** The API key's `rate_limit_tier` (general, elevated, unlimited). */
  rateLimitTier?: string;
  /**
   * Set when the credential is a node key: the node it is bound to. Such a principal is that node's agent
   * and nothing else (AuthorizationGuard lets it through only on @NodeAgent routes of its own node); userId
   * is the node's owner, for rate limiting and audit.
   */
  nodeId?: string;
  /** Set when the API key stops working at a known time (an expiry, a rotation's grace): answers announce it. */
  keySunset?: KeySunset;
}

/** Where a request came from, for audit rows and token metadata. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  /** The API key (a node key included) that authenticated the request: audit rows name it as the actor's key. */
  apiKeyId?: string | null;
}
