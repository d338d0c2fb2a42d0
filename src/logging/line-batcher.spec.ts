import { LineBatcher } from './line-batcher';

const turnEnd = () => new Promise((resolve) => setImmediate(resolve));

describe('LineBatcher', () => {
  let writes: string[];
  const target = { write: (chunk: string) => void writes.push(chunk) };
  beforeEach(() => (writes = []));

  it('writes the lines of one loop turn once, in order, when the turn ends', async () => {
    const batcher = new LineBatcher(target);
    batcher.write('{"n":1}\n');
    batcher.write('{"n":2}\n');
    batcher.write('{"n":3}\n');
    expect(writes).toEqual([]);
    await turnEnd();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n']);

    batcher.write('{"n":4}\n');
    await turnEnd();
    expect(writes).toEqual(['{"n":1}\n{"n":2}\n{"n":3}\n', '{"n":4}\n']);
  });

  it('writes at once when a batch reaches its size bound, and does not write an empty batch', async () => {
    const batcher = new LineBatcher(target, 10);
    batcher.write('12345\n');
    expect(writes).toEqual([]);
    batcher.write('67890\n');
    expect(writes).toEqual(['12345\n67890\n']);
    await turnEnd();
    expect(writes).toHaveLength(1);
  });

  it('flushSync writes what is pending now', () => {
    const batcher = new LineBatcher(target);
    batcher.write('a\n');
    batcher.flushSync();
    expect(writes).toEqual(['a\n']);
    batcher.flushSync();
    expect(writes).toEqual(['a\n']);
  });
});
