import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const NODE_AGENT_KEY = 'vcp:nodeAgent';

export interface NodeAgentAccess {
  /**
   * The route parameter that names the node. AuthorizationGuard lets a node key through only when it is bound
   * to that node (another node's id answers 404, as a node the caller cannot see). Omit it on routes whose
   * node is not in the path (a run leased to the node): the handler must then check `principal.nodeId`
   * against the resource itself.
   */
  nodeParam?: string;
  /**
   * Whether user credentials may call the route too (with the route's @Authenticated scopes; the handler
   * checks ownership). False: only the node's own key — a user key or JWT can never act as an agent.
   */
  users: boolean;
}

/**
 * Opens a route to node keys. Everything else is closed to them: a node key carries only `nodes:agent`, and
 * the guard refuses it (403) on any route without this decorator, whatever scopes the route lists.
 */
export function NodeAgent(access: NodeAgentAccess) {
  return applyDecorators(
    SetMetadata(NODE_AGENT_KEY, access),
    // In the OpenAPI document, so agents (and the scope-matrix test) know where a node key works.
    ApiExtension('x-node-agent', { node_param: access.nodeParam ?? null, users: access.users }),
  );
}
