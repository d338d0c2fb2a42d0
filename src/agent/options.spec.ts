import { OptionsError, parseOptions } from './options';

describe('agent options', () => {
  it('reads the pinned flags, each also from its pinned environment variable (flags win)', () => {
    const env = {
      VCP_SERVER_URL: 'http://env:3000',
      VCP_API_KEY: 'env-key',
      VCP_NODE_ID: 'env-node',
      VCP_AGENT_CONCURRENCY: '3',
      VCP_AGENT_DIR: '/tmp/env-dir',
      VCP_REGION: 'env-region',
    };
    expect(parseOptions([], env)).toMatchObject({
      server: 'http://env:3000',
      apiKey: 'env-key',
      nodeId: 'env-node',
      concurrency: 3,
      dataDir: '/tmp/env-dir',
      region: 'env-region',
      json: false,
    });
    const flags = [
      '--server',
      'https://flag:8443/',
      '--api-key',
      'flag-key',
      '--node-id',
      'flag-node',
      '--concurrency',
      '5',
      '--data-dir',
      '/tmp/flag-dir',
      '--region',
      'flag-region',
      '--json',
    ];
    expect(parseOptions(flags, env)).toMatchObject({
      server: 'https://flag:8443',
      apiKey: 'flag-key',
      nodeId: 'flag-node',
      concurrency: 5,
      dataDir: '/tmp/flag-dir',
      region: 'flag-region',
      json: true,
    });
  });

  it.each([
    [[], 'server'],
    [['--server', 'ftp://x'], 'http or https'],
    [['--server', 'http://x', '--concurrency', '0'], 'concurrency'],
    [['--server', 'http://x', '--concurrency', '2.5'], 'concurrency'],
    [['--server', 'http://x', '--bogus'], 'bogus'],
  ])('refuses %j with a message naming the problem', (argv, named) => {
    expect(() => parseOptions(argv, {})).toThrow(named);
  });

  it('an empty variable (VCP_AGENT_DIR= in a compose file) is unset, never the current directory', () => {
    const server = { VCP_SERVER_URL: 'http://s:1' };
    const empty = { VCP_NODE_ID: '', VCP_AGENT_CONCURRENCY: '', VCP_AGENT_DIR: '', VCP_REGION: '' };
    const options = parseOptions([], { ...server, ...empty });
    expect(options).toMatchObject({ nodeId: undefined, region: 'default' });
    expect(options.dataDir).toBe(parseOptions([], server).dataDir);
    expect(options.dataDir).not.toBe(process.cwd());
    expect(() => parseOptions(['--data-dir', ''], server)).toThrow('--data-dir');
  });

  it.each([['0x10'], ['1e1'], ['  '], [''], ['+4']])(
    'refuses --concurrency and --grace-secs %j: whole numbers are written in digits',
    (value) => {
      const server = { VCP_SERVER_URL: 'http://s:1' };
      expect(() => parseOptions(['--concurrency', value], server)).toThrow('--concurrency');
      expect(() => parseOptions(['--grace-secs', value], server)).toThrow('--grace-secs');
      expect(() => parseOptions([], { ...server, VCP_AGENT_CACHE_MB: value.trim() || '1k' })).toThrow(
        '--cache-mb',
      );
    },
  );

  it('--print-public-key and --help need no server; everything else does', () => {
    expect(parseOptions(['--print-public-key', '--data-dir', '/tmp/k'], {})).toMatchObject({
      printPublicKey: true,
      help: false,
      dataDir: '/tmp/k',
    });
    expect(parseOptions(['-h'], {})).toMatchObject({ help: true, printPublicKey: false });
    expect(() => parseOptions(['--data-dir', '/tmp/k'], {})).toThrow('--server (VCP_SERVER_URL) is required');
  });

  it('refuses a --node-id the server would refuse, as a bad flag', () => {
    const server = ['--server', 'http://s:1'];
    expect(() => parseOptions([...server, '--node-id', 'has space'], {})).toThrow(OptionsError);
    expect(() => parseOptions(server, { VCP_NODE_ID: 'x'.repeat(65) })).toThrow(
      '--node-id (VCP_NODE_ID) must be 1–64',
    );
    expect(parseOptions([...server, '--node-id', 'node_1-a'], {}).nodeId).toBe('node_1-a');
  });

  it('counts --region in characters, as the server does (RegisterNodeDto): 32 emoji pass, 33 do not', () => {
    const server = ['--server', 'http://s:1'];
    expect(parseOptions([...server, '--region', '😀'.repeat(32)], {}).region).toBe('😀'.repeat(32));
    expect(() => parseOptions([...server, '--region', '😀'.repeat(33)], {})).toThrow(
      '--region (VCP_REGION) must be 1–32 characters',
    );
    expect(() => parseOptions([...server, '--region', ''], {})).toThrow('--region');
  });
});
