import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { Authenticated } from '../../common/auth/authenticated.decorator';
import { NodeAgent } from '../../common/auth/node-agent.decorator';
import type { Principal } from '../../common/auth/principal';
import { NODE_KEY_SCOPES, ROLE_SCOPES, Scope } from '../../common/auth/scopes';
import { AppException } from '../../common/errors/app.exception';
import { AuthorizationGuard } from './authorization.guard';

class NodesRoutes {
  @Authenticated({ scopes: [Scope.NodesWrite] })
  @NodeAgent({ nodeParam: 'node_id', users: true })
  heartbeat() {}

  @Authenticated()
  @NodeAgent({ nodeParam: 'node_id', users: false })
  claim() {}

  @Authenticated()
  @NodeAgent({ users: false })
  submitResult() {}

  @Authenticated({ scopes: [Scope.NodesRead] })
  read() {}
}

const user: Principal = {
  userId: '00000000-0000-4000-8000-000000000001',
  username: 'owner',
  role: 'admin',
  scopes: ROLE_SCOPES.admin,
  authMethod: 'jwt',
};
const nodeKey: Principal = { ...user, authMethod: 'api_key', scopes: NODE_KEY_SCOPES, nodeId: 'node-a' };

function outcome(handler: keyof NodesRoutes, principal: Principal, nodeId = 'node-a'): number {
  const request = { user: principal, params: { node_id: nodeId } };
  const context = new ExecutionContextHost([request, {}], NodesRoutes, NodesRoutes.prototype[handler]);
  try {
    return new AuthorizationGuard(new Reflector()).canActivate(context) ? 200 : 0;
  } catch (error) {
    return (error as AppException).getStatus();
  }
}

describe('AuthorizationGuard and node keys', () => {
  it('lets a node key through only on agent routes of its own node', () => {
    expect(outcome('heartbeat', nodeKey)).toBe(200);
    expect(outcome('claim', nodeKey)).toBe(200);
    expect(outcome('heartbeat', nodeKey, 'node-b')).toBe(404);
    expect(outcome('claim', nodeKey, 'node-b')).toBe(404);
    expect(outcome('read', nodeKey)).toBe(403);
  });

  it('leaves the binding to the handler where the path names no node', () => {
    expect(outcome('submitResult', nodeKey)).toBe(200);
  });

  it('never lets a user credential act as an agent, even an admin’s', () => {
    expect(outcome('claim', user)).toBe(403);
    expect(outcome('submitResult', user)).toBe(403);
    expect(outcome('heartbeat', user)).toBe(200);
    expect(outcome('heartbeat', { ...user, scopes: [Scope.NodesRead] })).toBe(403);
  });

  it('refuses a node-bound principal that lacks the agent scope', () => {
    expect(outcome('heartbeat', { ...nodeKey, scopes: [Scope.NodesWrite] })).toBe(403);
  });

  it('keeps nodes:agent out of every role', () => {
    expect(ROLE_SCOPES.user).not.toContain(Scope.NodesAgent);
    expect(ROLE_SCOPES.admin).not.toContain(Scope.NodesAgent);
  });
});
