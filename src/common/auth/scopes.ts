/** The scope vocabulary. Scopes only ever narrow what a role allows: a credential can carry fewer, never more. */
export const Scope = {
  TasksRead: 'tasks:read',
  TasksWrite: 'tasks:write',
  NodesRead: 'nodes:read',
  NodesWrite: 'nodes:write',
  ProofsWrite: 'proofs:write',
  KeysManage: 'keys:manage',
  AdminUsers: 'admin:users',
  AdminAudit: 'admin:audit',
  AdminThrottle: 'admin:throttle',
  /** Register proof circuits: a key narrowed to any other admin scope cannot change what proofs verify against. */
  AdminCircuits: 'admin:circuits',
  /**
   * A node's agent acting for its node. Carried only by node keys (API keys bound to one node), never granted
   * to a user or a user's key: no role has it, and a node key carries nothing else.
   */
  NodesAgent: 'nodes:agent',
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];
export const ALL_SCOPES: readonly Scope[] = Object.values(Scope);

export const ROLES = ['user', 'admin'] as const;
export type Role = (typeof ROLES)[number];

const USER_SCOPES: readonly Scope[] = [
  Scope.TasksRead,
  Scope.TasksWrite,
  Scope.NodesRead,
  Scope.NodesWrite,
  Scope.ProofsWrite,
  Scope.KeysManage,
];

/** What each role may do at most. Admin scopes exist only on the admin role; no role is a node's agent. */
export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  user: USER_SCOPES,
  admin: ALL_SCOPES.filter((scope) => scope !== Scope.NodesAgent),
};

/** Scopes a user may put on an API key (POST /api-keys); `nodes:agent` comes only with a node key. */
export const GRANTABLE_SCOPES: readonly Scope[] = ROLE_SCOPES.admin;

/** The scopes of every node key. */
export const NODE_KEY_SCOPES: readonly Scope[] = [Scope.NodesAgent];

export function isScope(value: string): value is Scope {
  return (ALL_SCOPES as readonly string[]).includes(value);
}
