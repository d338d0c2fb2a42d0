import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';

/**
 * PostgreSQL's text and jsonb cannot hold U+0000: a NUL anywhere in a body or a URL used to reach SQL and
 * answer 500 (a node's result with one was retried forever). It is a 422 naming where it is.
 */
describe('NUL characters in requests', () => {
  const ctx = useTestApp({ database: 'pglite' });
  let alice: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  const details = (res: { json: () => { error: string; details?: { field: string }[] } }) => [
    res.json().error,
    res.json().details?.map((detail) => detail.field),
  ];

  it('in a JSON body: 422 naming the field, for values, array items and keys', async () => {
    const submit = (inputs: unknown, args?: string[]) =>
      ctx.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: { ...bearer(alice.accessToken), 'content-type': 'application/json' },
        payload: JSON.stringify({
          task_type: 'computation',
          inputs,
          ...(args ? { args } : {}),
          requirements: { min_nodes: 1, max_execution_time_sec: 60 },
        }),
      });
    const inValue = await submit({ program: 'text_stats', text: 'hello\u0000world' });
    expect(inValue.statusCode).toBe(422);
    expect(details(inValue)).toEqual(['validation_error', ['inputs.text']]);
    expect(details(await submit({ program: 'expression', expression: '1' }, ['a\u0000']))).toEqual([
      'validation_error',
      ['args[0]'],
    ]);
    expect(details(await submit({ ['k\u0000']: 1 }))).toEqual(['validation_error', ['inputs']]);
    // A backslash before u0000 is text, not a NUL.
    const plain = await submit({ program: 'text_stats', text: 'a \\u0000 b' });
    expect(plain.statusCode).toBe(201);
  });

  it('in a path parameter or a query value: 422 before any lookup', async () => {
    for (const url of ['/api/v1/nodes/a%00b', '/api/v1/nodes?region=%00', '/api/v1/tasks/x%00/cancel']) {
      const res = await ctx.app.inject({
        method: url.endsWith('cancel') ? 'POST' : 'GET',
        url,
        headers: bearer(alice.accessToken),
      });
      expect([url, res.statusCode, ...details(res)]).toEqual([url, 422, 'validation_error', ['url']]);
      expect(res.headers['x-request-id']).toBeDefined();
    }
    const fine = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/nodes?region=eu%20west',
      headers: bearer(alice.accessToken),
    });
    expect(fine.statusCode).toBe(200);
  });
});
