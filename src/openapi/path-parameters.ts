/**
 * What each path parameter names, by name (`id` by the path it is in): `@Param()` documents only the name.
 * A parameter missing here keeps no description, which test/e2e/openapi-document.spec.ts reports.
 */
const BY_NAME: Record<string, string> = {
  task_id: 'The task’s id (a UUID: `task_id` of the submission’s answer)',
  run_id: 'The run’s id (a UUID: `run_id` of a claimed run)',
  node_id: 'The node’s id, as registered (1–64 ASCII letters, digits, "-" or "_")',
  circuit_id: 'The circuit’s id: the SHA-256 of its verification key’s canonical JSON, 64 lowercase hex',
  module_id: 'The module’s id: the SHA-256 of its bytes, 64 lowercase hex',
  key_id: 'The API key’s id (a UUID, never the key itself)',
  proof_id: 'The proof’s id (a UUID: `proof_id` of a verification, or of a completed zk_proof task)',
};
const ID_BY_PATH: Record<string, string> = {
  '/api/v1/admin/users/{id}': 'The user’s id (a UUID)',
  '/api/v1/admin/throttle-overrides/{id}': 'The override’s id (a UUID: `override_id`)',
};

export function pathParameterDescription(path: string, name: string): string | undefined {
  return name === 'id' ? ID_BY_PATH[path] : BY_NAME[name];
}
