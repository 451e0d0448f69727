// berth build: sends the context to the engine's Builder and prints its
// progress (docs/design/build.md). The build itself runs in the engine.
//
// Context, as docker build takes it:
//   PATH  a directory, packed here without what its .dockerignore excludes;
//         the Dockerfile is PATH/Dockerfile or -f (relative to the current
//         directory, as the docker CLI resolves it), sent as text.
//   -     stdin: a tar (plain or gzip) is the context (its Dockerfile, or
//         -f's name inside it); anything else is a Dockerfile with no context.
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { InvalidArgumentError, NotFoundError } from '@berth/errors';
import { packContext, parseDockerignore } from '@berth/build';
import { humanSize } from '@berth/cli-kit';
import { createClient } from '@berth/kit/client';
import type { engineV1 } from '@berth/proto';
import type { Ctx } from '../context';

type BuildMsg = { progress?: Buffer | null; result?: engineV1.BuildResult__Output | null };

/** "K=V" flags into a map; a bare "K" takes the value from the environment, as docker build --build-arg does. */
function keyValues(ctx: Ctx, flag: string, fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of ctx.list(flag)) {
    const eq = v.indexOf('=');
    if (eq === 0) throw new InvalidArgumentError(`invalid argument "${v}" for "--${flag}": the name is empty`, { field: flag });
    if (eq < 0) {
      if (!fromEnv) { out[v] = ''; continue; }
      const env = ctx.env[v];
      if (env !== undefined) out[v] = env;
      continue;
    }
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(parts);
}

const isTar = (b: Buffer): boolean => b.length >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar';

export async function build(ctx: Ctx): Promise<number> {
  const [path] = ctx.p.args as [string];
  const quiet = ctx.bool('quiet');
  const file = ctx.str('file');
  const options: engineV1.BuildOptions = {
    dockerfile: '', tags: ctx.list('tag'), buildArgs: keyValues(ctx, 'build-arg', true), target: ctx.str('target'),
    noCache: ctx.bool('no-cache'), pull: ctx.bool('pull'), labels: keyValues(ctx, 'label', false),
  };
  let context: AsyncIterable<Buffer> | Buffer[] = [];
  const stats = { bytes: 0 };
  if (path === '-') {
    if (file === '-') throw new InvalidArgumentError('invalid argument: can\'t use stdin for both build context and dockerfile', { field: 'file' });
    const input = await readAll(ctx.io.stdin);
    const gz = input[0] === 0x1f && input[1] === 0x8b;
    if (isTar(input) || (gz && isTar(gunzipSync(input)))) {
      context = [input];
      stats.bytes = input.length;
      options.dockerfile = file || 'Dockerfile';
    } else {
      options.dockerfileContent = input;
    }
  } else {
    if (/^[a-z]+:\/\//i.test(path) || path.startsWith('git@')) {
      throw new InvalidArgumentError(`unable to prepare context: berth build takes a local directory or "-", not a URL (${path})`, { field: 'PATH' });
    }
    let st;
    try { st = statSync(path); } catch { throw new NotFoundError(`unable to prepare context: path "${path}" not found`, { field: 'PATH' }); }
    if (!st.isDirectory()) throw new InvalidArgumentError(`unable to prepare context: context must be a directory: ${resolve(path)}`, { field: 'PATH' });
    const dockerfile = file === '-' ? null : file ? resolve(file) : join(path, 'Dockerfile');
    try {
      options.dockerfileContent = dockerfile === null ? await readAll(ctx.io.stdin) : readFileSync(dockerfile);
    } catch {
      throw new NotFoundError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${dockerfile}: no such file or directory`, { field: 'file' });
    }
    options.dockerfile = file && file !== '-' ? file : 'Dockerfile';
    let ignore = '';
    try { ignore = readFileSync(join(path, '.dockerignore'), 'utf8'); } catch { /* none */ }
    context = packContext(path, parseDockerignore(ignore), stats);
  }

  const client = createClient<engineV1.BuilderDefinition, engineV1.BuilderHandlers>('berth.engine.v1.Builder', ctx.target('engine').addresses, { timeoutMs: 6 * 60 * 60_000 });
  const call = client.Build() as unknown as Duplex;
  let result: engineV1.BuildResult__Output | null = null;
  const done = new Promise<void>((res, rej) => {
    call.on('data', (m: BuildMsg) => {
      if (m.progress && !quiet) ctx.io.stdout.write(m.progress);
      if (m.result) result = m.result;
    });
    call.on('end', () => res());
    call.on('error', rej);
  });
  done.catch(() => undefined);
  const sending = (async () => {
    call.write({ options });
    for await (const chunk of context) {
      if (!call.write({ context: chunk })) await Promise.race([once(call, 'drain'), done]);
    }
    call.end();
    if (!quiet) ctx.io.stdout.write(`Sending build context to berth engine  ${humanSize(stats.bytes)}\n`);
  })();
  sending.catch(() => undefined);
  try {
    await Promise.all([sending, done]);
  } finally {
    client.close();
  }
  const r = result as engineV1.BuildResult__Output | null;
  if (!r) throw new InvalidArgumentError('the engine ended the build without a result', { field: 'PATH' });
  if (quiet) ctx.out(`${r.imageId}\n`);
  return 0;
}
