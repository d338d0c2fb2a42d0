import { EventEmitter } from 'node:events';
import { REPEAT_MS, stopSignals } from './stop-signals';

describe('stopSignals', () => {
  let clock: number;
  let signals: EventEmitter;
  let forced: NodeJS.Signals[];
  const start = () => stopSignals((signal) => forced.push(signal), { signals, now: () => clock });
  beforeEach(() => {
    clock = 0;
    signals = new EventEmitter();
    forced = [];
  });

  it('resolves with the first signal; the same one a second later forces the stop', async () => {
    const sut = start();
    signals.emit('SIGINT');
    clock += REPEAT_MS;
    signals.emit('SIGINT');
    expect({ first: await sut, forced }).toEqual({ first: 'SIGINT', forced: ['SIGINT'] });
  });

  it("the first signal's repeat at once is that same stop passed on (npm, a process group), not a second one", async () => {
    const sut = start();
    signals.emit('SIGINT'); // the terminal's Ctrl-C, to the agent (or a supervisor's, to the process)
    clock += 50;
    signals.emit('SIGINT'); // the same, passed on by npm (or sent to the process group)
    expect({ first: await sut, forced }).toEqual({ first: 'SIGINT', forced: [] });
    signals.emit('SIGINT'); // the operator's second Ctrl-C, however soon: it forces the stop
    expect(forced).toEqual(['SIGINT']);
  });

  it('another signal, or the same one a second later, still forces the stop', () => {
    void start();
    signals.emit('SIGTERM');
    signals.emit('SIGINT');
    clock += REPEAT_MS;
    signals.emit('SIGTERM');
    expect(forced).toEqual(['SIGINT', 'SIGTERM']);
  });

  it('SIGHUP (its terminal or SSH session closed) is a stop like SIGTERM; a second one forces it', async () => {
    const sut = start();
    signals.emit('SIGHUP');
    expect(await sut).toBe('SIGHUP');
    clock += REPEAT_MS;
    signals.emit('SIGHUP');
    expect(forced).toEqual(['SIGHUP']);
  });
});
