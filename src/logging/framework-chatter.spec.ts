import type { LoggerService } from '@nestjs/common';
import { ExplainedError, SettingsError } from '../common/config/problems';
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

  it("moves Nest's report of an explained start failure to debug: main.ts says it in one line", () => {
    sut.error(new ExplainedError('the data dir is in use'), undefined, 'ExceptionHandler');
    sut.error(new SettingsError('HOST=x is not a known host name'), undefined, 'ExceptionHandler');
    sut.error('Error: listen EADDRINUSE: address already in use 127.0.0.1:3000', 'NestApplication');
    sut.error('Error: getaddrinfo ENOTFOUND nowhere.invalid', 'NestApplication');
    expect(calls.map(([level]) => level)).toEqual(['debug', 'debug', 'debug', 'debug']);
  });

  it('keeps every other error, stack and all, at error (negative control)', () => {
    sut.error(new Error('something unexpected'), undefined, 'ExceptionHandler');
    sut.error('Error: listen EMFILE: too many open files', 'NestApplication');
    sut.error(new ExplainedError('explained, but not by Nest'), undefined, 'Bootstrap');
    expect(calls.map(([level]) => level)).toEqual(['error', 'error', 'error']);
  });
});
