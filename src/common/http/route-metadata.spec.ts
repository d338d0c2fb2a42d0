import { SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { routeMetadata } from './route-metadata';

const TIER = 'test:tier';

@SetMetadata(TIER, 'base')
class BaseController {
  list() {}
  @SetMetadata(TIER, 'handler')
  show() {}
}

@SetMetadata(TIER, 'derived')
class DerivedController extends BaseController {}

const contextOf = (classRef: object, handler: () => void) =>
  new ExecutionContextHost([], classRef as never, handler);

describe('routeMetadata', () => {
  const reflector = new Reflector();

  it('answers as getAllAndOverride does: the handler first, then its class', () => {
    expect(routeMetadata(reflector, TIER, contextOf(BaseController, BaseController.prototype.show))).toBe(
      'handler',
    );
    expect(routeMetadata(reflector, TIER, contextOf(BaseController, BaseController.prototype.list))).toBe(
      'base',
    );
  });

  it('keeps one answer per class for a handler two controllers share (inherited)', () => {
    const shared = BaseController.prototype.list;
    expect(DerivedController.prototype.list).toBe(shared);
    expect(routeMetadata(reflector, TIER, contextOf(BaseController, shared))).toBe('base');
    expect(routeMetadata(reflector, TIER, contextOf(DerivedController, shared))).toBe('derived');
    expect(routeMetadata(reflector, TIER, contextOf(BaseController, shared))).toBe('base');
  });

  it('reads the metadata once per handler, class and key, and remembers an absent key too', () => {
    const spy = jest.spyOn(reflector, 'getAllAndOverride');
    const context = contextOf(DerivedController, DerivedController.prototype.show);
    for (let i = 0; i < 3; i++) {
      expect(routeMetadata(reflector, TIER, context)).toBe('handler');
      expect(routeMetadata(reflector, 'test:absent', context)).toBeUndefined();
    }
    expect(spy).toHaveBeenCalledTimes(2);
  });
});
