/**
 * Issue 13, row 1, in bounded form, against the built server in a child process (whose RSS is sampled from
 * /proc every 20 ms): the largest module of the reported shape (nested `loop` blocks) that the default
 * structural limits allow is uploaded and run, once and then ABUSE_COMPILE_PARALLEL (3) distinct copies at
 * once; then the reported module itself (2.5 M nested loops, 7.5 MB) is uploaded. Prints the peak RSS over
 * the idle baseline (target ≤ 512 MB, sampled until ABUSE_COMPILE_SETTLE_MS (5 000) after the runs, since
 * the optimizing tier compiles in the background after a run returns) and what happened to the big one
 * (target: refused with a 422 naming the limit).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config';
import { AbuseResult, mb, ms, timed, verdict } from '../support/abuse';
import { peakRss, startServerChild } from '../support/server-child';
import { largestNestedLoopsModule, nestedLoopsModule } from '../support/wasm-shapes';

const PARALLEL = Number(process.env.ABUSE_COMPILE_PARALLEL ?? 3);
const SETTLE_MS = Number(process.env.ABUSE_COMPILE_SETTLE_MS ?? 5000);
const TARGET_BYTES = 512 * 1024 * 1024;

/** A custom section with a random name: the module behaves the same but is new to the server (no cache hit). */
const distinct = (bytes: Buffer) =>
  Buffer.concat([bytes, Buffer.from([0, 17, 16]), Buffer.from(randomBytes(8).toString('hex'))]);

export async function run(): Promise<AbuseResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-abuse-compile-'));
  const lines: string[] = [];
  // The server's own defaults, read the way it reads them.
  const defaults = loadConfig({ DATA_DIR: dataDir }).wasm;
  const server = await startServerChild({ DATA_DIR: dataDir, ENVIRONMENT: 'test' });
  const rss = () => server.rss();
  try {
    const registered = await fetch(`${server.base}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: `abuse_${randomBytes(4).toString('hex')}`,
        password: 'correct horse battery',
      }),
    });
    const { api_key } = (await registered.json()) as { api_key: string };
    const headers = { 'x-api-key': api_key };
    const upload = async (bytes: Buffer) => {
      const res = await fetch(`${server.base}/modules`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/wasm' },
        body: new Uint8Array(bytes),
      });
      return { status: res.status, body: (await res.json()) as { module_id?: string; message?: string } };
    };
    const runModule = async (moduleId: string) => {
      const res = await fetch(`${server.base}/modules/${moduleId}/run`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: null }),
      });
      return ((await res.json()) as { outcome?: string }).outcome ?? `HTTP ${res.status}`;
    };

    // Idle baseline: after a first trivial upload and run (worker pool and check thread started) and a pause
    // for start-up garbage to be collected.
    const tiny = nestedLoopsModule({ depth: 1 });
    await runModule((await upload(tiny)).body.module_id as string);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const idle = server.rss();
    const { bytes, shape } = largestNestedLoopsModule({ ...defaults.structure, ...defaults });
    lines.push(
      `server idle RSS ${mb(idle)}; largest allowed module: ${shape.functions} functions × ${shape.groups} ` +
        `groups × ${shape.depth} nested loops = ${mb(bytes.length)} (limits: depth ` +
        `${defaults.structure.maxNestingDepth}, function ${mb(defaults.structure.maxFunctionBytes)}, ` +
        `loop state ${defaults.structure.maxLoopState})`,
    );

    const one = await peakRss(
      rss,
      async () => {
        const stored = await upload(bytes);
        if (stored.status !== 201 || !stored.body.module_id) throw new Error(`upload: ${stored.status}`);
        return timed(() => runModule(stored.body.module_id as string));
      },
      { afterMs: SETTLE_MS },
    );
    lines.push(
      `  one run: ${one.value.value} in ${ms(one.value.ms)}; peak RSS ${mb(one.peak)} (+${mb(Math.max(0, one.peak - idle))} over idle)`,
    );

    const many = await peakRss(
      rss,
      async () => {
        const ids = await Promise.all(
          Array.from(
            { length: PARALLEL },
            async () => (await upload(distinct(bytes))).body.module_id as string,
          ),
        );
        return Promise.all(ids.map((id) => runModule(id)));
      },
      { afterMs: SETTLE_MS },
    );
    lines.push(
      `  ${PARALLEL} at once: ${many.value.join(', ')}; peak RSS ${mb(many.peak)} (+${mb(Math.max(0, many.peak - idle))} over idle)`,
    );

    const reported = nestedLoopsModule({ depth: 2_500_000 });
    const refused = await peakRss(rss, () => upload(reported));
    const named = refused.value.status === 422 && /WASM_MAX_/.test(refused.value.body.message ?? '');
    lines.push(
      `  the reported module (${mb(reported.length)}, 2.5 M nested loops): HTTP ${refused.value.status} ` +
        `"${refused.value.body.message ?? ''}"; peak RSS ${mb(refused.peak)} ` +
        `(target: 422 naming the limit: ${verdict(named)})`,
    );
    const peak = Math.max(0, Math.max(one.peak, many.peak, refused.peak) - idle);
    const bounded = peak <= TARGET_BYTES;
    const ran = one.value.value === 'ok' && many.value.every((outcome) => outcome === 'ok');
    lines.push(
      `  peak RSS over idle: ${mb(peak)} (target ≤ 512 MB: ${verdict(bounded)}); all runs ok: ${ran}`,
    );
    return { name: 'row 1: module compile memory (nested loops)', lines, pass: bounded && named && ran };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
