import { EventEmitter } from 'node:events';
import { NPM_REPEAT_MS, stopSignals } from './stop-signals';

describe('stopSignals', () => {
  let clock: number;
  let signals: EventEmitter;
  let forced: NodeJS.Signals[];
  const start = (underNpm: boolean) =>
    stopSignals((signal) => forced.push(signal), { signals, underNpm, now: () => clock });
  beforeEach(() => {
    clock = 0;
    signals = new EventEmitter();
    forced = [];
  });

  it('resolves with the first signal; a second one forces the stop', async () => {
    const sut = start(false);
    signals.emit('SIGINT');
    signals.emit('SIGINT');
    expect({ first: await sut, forced }).toEqual({ first: 'SIGINT', forced: ['SIGINT'] });
  });

  it("under npm, the first signal's repeat at once is npm passing on that same stop, not a second one", async () => {
    const sut = start(true);
    signals.emit('SIGINT'); // the terminal's Ctrl-C, to the agent
    clock += 50;
    signals.emit('SIGINT'); // the same, passed on by npm
    expect({ first: await sut, forced }).toEqual({ first: 'SIGINT', forced: [] });
    signals.emit('SIGINT'); // the operator's second Ctrl-C: npm passes it on too, and it forces the stop
    expect(forced).toEqual(['SIGINT']);
  });

  it('under npm, another signal, or the same one a second later, still forces the stop', () => {
    void start(true);
    signals.emit('SIGTERM');
    signals.emit('SIGINT');
    clock += NPM_REPEAT_MS;
    signals.emit('SIGTERM');
    expect(forced).toEqual(['SIGINT', 'SIGTERM']);
  });
});
