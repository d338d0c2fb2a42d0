import type { LoggerService } from '@nestjs/common';
import { FrameworkChatterFilter } from './framework-chatter';

describe('FrameworkChatterFilter', () => {
  const calls: [string, unknown[]][] = [];
  const record =
    (level: string) =>
    (...args: unknown[]) =>
      calls.push([level, args]);
  const inner: LoggerService = {
    log: record('log'),
    error: record('error'),
    warn: record('warn'),
    debug: record('debug'),
  };
  const sut = new FrameworkChatterFilter(inner);

  beforeEach(() => (calls.length = 0));

  it("moves Nest's start-up lines to debug", () => {
    sut.log('AppModule dependencies initialized', 'InstanceLoader');
    sut.log('Mapped {/api/v1/health, GET} route', 'RouterExplorer');
    sut.log('TasksController {/api/v1/tasks}:', 'RoutesResolver');
    expect(calls.map(([level]) => level)).toEqual(['debug', 'debug', 'debug']);
    expect(calls[0][1]).toEqual(['AppModule dependencies initialized', 'InstanceLoader']);
  });

  it('passes every other line through at its own level', () => {
    sut.log('VCP listening on http://127.0.0.1:3000', 'Bootstrap');
    sut.log('no context');
    sut.warn('careful', 'InstanceLoader');
    sut.error('broken', 'RouterExplorer');
    expect(calls.map(([level]) => level)).toEqual(['log', 'log', 'warn', 'error']);
  });
});
