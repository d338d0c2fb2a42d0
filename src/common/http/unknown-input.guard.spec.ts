import { Body, Query } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { appErrorOf, fakeRequest, httpContext } from '../../../test/support/guard-context';
import { IgnoresQuery, UnknownInputGuard } from './unknown-input.guard';

class ListQuery {
  limit?: number;
}

class ThingsController {
  list(@Query() _query: ListQuery) {}
  get() {}
  create(@Body() _body: ListQuery) {}
  cancel() {}
}

@IgnoresQuery()
class ProbeController {
  health() {}
}

describe('UnknownInputGuard', () => {
  const sut = new UnknownInputGuard(new Reflector());
  const call = <T>(controller: new () => T, handler: keyof T & string, query: Record<string, string>) =>
    sut.canActivate(httpContext(controller, handler, fakeRequest({ query })));

  afterEach(() => jest.restoreAllMocks());

  it('refuses any parameter on a route without a @Query() DTO, naming each as the pipe does', async () => {
    expect(await appErrorOf(() => call(ThingsController, 'get', { all: 'true', zz: '1' }))).toMatchObject({
      status: 422,
      code: 'validation_error',
      message: 'Request validation failed',
    });
    let thrown: unknown;
    try {
      call(ThingsController, 'get', { all: 'true', zz: '1' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({
      extra: {
        details: [
          { field: 'all', message: 'is not an allowed field' },
          { field: 'zz', message: 'is not an allowed field' },
        ],
      },
    });
  });

  it('leaves a DTO route to the validation pipe, and lets the probes ignore the query', () => {
    expect(call(ThingsController, 'list', { zz: '1' })).toBe(true);
    expect(call(ProbeController, 'health', { _: '1733390000' })).toBe(true);
  });

  it('counts only own keys: Fastify’s parser builds a prototype-less object', async () => {
    const parsed = Object.assign(Object.create(null) as Record<string, string>, { zz: '1' });
    expect((await appErrorOf(() => call(ThingsController, 'get', parsed))).status).toBe(422);
  });

  describe('a body', () => {
    const send = (handler: 'create' | 'cancel', body: unknown) => {
      const request = Object.assign(fakeRequest({ method: 'POST' }), { body });
      return sut.canActivate(httpContext(ThingsController, handler, request));
    };
    const detailsOf = (run: () => unknown): unknown => {
      try {
        run();
      } catch (error) {
        return (error as { extra: { details: unknown } }).extra.details;
      }
      return null;
    };

    it('refuses one with fields on a route that takes none, naming each (never dropped in silence)', () => {
      expect(detailsOf(() => send('cancel', { reason: 'x', anything: [1] }))).toEqual([
        { field: 'reason', message: 'is not an allowed field' },
        { field: 'anything', message: 'is not an allowed field' },
      ]);
      for (const body of [[1], 'x', 3, true]) {
        expect(detailsOf(() => send('cancel', body))).toEqual([
          { field: 'body', message: 'this route takes no body' },
        ]);
      }
    });

    it('lets {} and null through (clients send them for "nothing"), and leaves a @Body() route to its pipe', () => {
      for (const body of [undefined, null, {}, Object.create(null)]) expect(send('cancel', body)).toBe(true);
      expect(send('create', { anything: 1 })).toBe(true);
    });
  });

  it('reads no metadata for a request without a query, and a route’s metadata once', () => {
    const fresh = new UnknownInputGuard(new Reflector());
    const call = (query: Record<string, string>) =>
      fresh.canActivate(httpContext(ThingsController, 'get', fakeRequest({ query })));
    const reads = jest.spyOn(Reflect, 'getMetadata');
    for (let i = 0; i < 3; i++) expect(call({})).toBe(true);
    expect(reads).not.toHaveBeenCalled();
    for (let i = 0; i < 3; i++) expect(() => call({ zz: '1' })).toThrow();
    const routeArgumentReads = reads.mock.calls.filter(([key]) => key === '__routeArguments__');
    expect(routeArgumentReads).toHaveLength(1);
  });
});
