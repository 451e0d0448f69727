// Streaming decompression of layer blobs. gzip: Node's zlib, which inflates
// on the libuv threadpool, so it overlaps with the unpacker on the main
// thread (measured against piping through gzip(1) as GNU tar does: zlib was
// as fast or faster, with no process to manage). zstd: Node 20's zlib has none, so we run Debian's `zstd -dc` as a
// child process in the pipeline: native speed (the pure-JS decoders on npm
// are several times slower), its own CPU, no extra npm dependency, and the
// stream is never held whole in memory. Errors (corrupt data, a dying child)
// end the iteration with DataLoss.
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { DataLossError, UnavailableError, isBerthError } from '@berth/errors';
import type { Compression } from './mediatypes';

const HWM = 1 << 20;

/** Uncompressed chunks of `input`. Breaking out of the loop tears the pipeline down. */
export async function* decompressed(input: Readable, compression: Compression): AsyncGenerator<Buffer> {
  // A failing input (the client cancelled, the images service died) is not
  // corrupt data: report it as what it is, not as DataLoss.
  const failed: { error: unknown } = { error: undefined };
  input.once('error', (e) => { failed.error = e; });
  try {
    if (compression === 'none') {
      const pass = new PassThrough({ highWaterMark: HWM });
      pipeline(input, pass, () => undefined);
      yield* wrapErrors(pass, 'tar');
      return;
    }
    if (compression === 'gzip') {
      const gunzip = createGunzip({ chunkSize: 256 * 1024, highWaterMark: HWM } as never);
      pipeline(input, gunzip, () => undefined);
      yield* wrapErrors(gunzip, 'gzip');
      return;
    }
    yield* throughChild(input, ['zstd', '-dcq', '--no-progress'], compression);
  } catch (e) {
    if (failed.error !== undefined) throw inputFailure(failed.error);
    throw e;
  }
}

function inputFailure(e: unknown): Error {
  if (isBerthError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new UnavailableError(`the layer stream failed before its end (${msg}); nothing was stored, send the layer again`, { cause: e });
}

async function* throughChild(input: Readable, argv: string[], what: string): AsyncGenerator<Buffer> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 4096) stderr += d; });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', (e) => reject(new UnavailableError(`cannot run ${argv[0]} to decompress the layer (is the ${argv[0]} package installed?): ${e.message}`, { cause: e })));
    child.once('close', (code) => resolve(code));
  });
  exited.catch(() => undefined);
  let inputError: unknown;
  pipeline(input, child.stdin, (err) => { if (err && (err as NodeJS.ErrnoException).code !== 'EPIPE') inputError = err; });
  let done = false;
  try {
    yield* wrapErrors(child.stdout, what);
    const code = await exited;
    if (inputError) throw asDataLoss(inputError, what);
    if (code !== 0) throw new DataLossError(`layer blob is not valid ${what} data: ${stderr.trim() || `${argv[0]} exited with ${code}`}`);
    done = true;
  } finally {
    if (!done && child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    input.destroy();
  }
}

async function* wrapErrors(stream: Readable, what: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (e) {
    throw asDataLoss(e, what);
  } finally {
    stream.destroy();
  }
}

function asDataLoss(e: unknown, what: string): Error {
  if (isBerthError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DataLossError(`layer blob could not be read as ${what}: ${msg}`, { cause: e });
}
