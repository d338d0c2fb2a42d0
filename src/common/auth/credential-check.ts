import type { Principal } from './principal';

/** The request headers a credential came in. */
export type CredentialHeaders = Record<string, string | string[] | undefined>;

/**
 * Whether the credential a long-lived response was authorized with still holds: an event stream outlives its
 * request's own check, and must end when that credential would now be refused (a revoked key, a disabled or
 * demoted account, a logout-all). Provided by the auth module (CredentialCheckModule), so a feature asks without
 * knowing how credentials are checked. Throws when it cannot tell (the database is unreachable).
 */
export abstract class CredentialCheck {
  abstract holds(headers: CredentialHeaders, principal: Principal): Promise<boolean>;
}
