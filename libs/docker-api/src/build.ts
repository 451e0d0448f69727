// POST /build: Docker's classic builder API onto the engine's Builder
// (protos/berth/engine/v1/build.proto, docs/design/build.md). The request
// body is the context tar (plain or gzip: the Builder takes both) and is
// streamed to the engine as it arrives; the query names the Dockerfile, the
// tags, build args, target, labels. The answer is what Docker's classic
// builder sends: a 200 of JSON messages, {"stream": "..."} per line of the
// Builder's progress ("Step 1/3 : FROM busybox", RUN output, " ---> id"),
// {"aux": {"ID": "sha256:..."}} before "Successfully built", and a failure
// once the stream started as {"errorDetail", "error"} inside the 200. A
// failure before the first progress (a bad Dockerfile, a missing base
// image, a bad option) is Docker's error document with its status instead.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { InvalidArgumentError } from '@berth/errors';
import type { engineV1 } from '@berth/proto';
import type { Backends } from './backends';
import { boolParam, notImplemented, sendError, type Router } from './http';

type BuildMsg = { progress?: Buffer | null; result?: engineV1.BuildResult__Output | null };

/** A JSON object of strings (buildargs, labels); null values (a build arg named without a value) are left out. */
export function stringMap(q: URLSearchParams, name: string): Record<string, string> {
  const v = q.get(name);
  if (!v) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new InvalidArgumentError(`invalid ${name}: ${v} is not a JSON object`, { field: name });
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError(`invalid ${name}: ${v} is not a JSON object`, { field: name });
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(parsed as Record<string, unknown>)) {
    if (val === null || val === undefined) continue;
    if (typeof val !== 'string') throw new InvalidArgumentError(`invalid ${name}: the value of "${k}" is not a string`, { field: name });
    out[k] = val;
  }
  return out;
}

const HOST_ARCH = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;

/** Query parameters of options berth's builder does not have: refused when set to anything but their default. */
const UNSUPPORTED: [name: string, isDefault: (v: string) => boolean][] = [
  ['remote', (v) => v === ''],
  ['squash', (v) => ['', '0', 'false', 'False'].includes(v)],
  ['cachefrom', (v) => v === '' || v === '[]' || v === 'null'],
  ['extrahosts', (v) => v === '' || v === '[]' || v === 'null'],
  ['networkmode', (v) => ['', 'default', 'bridge'].includes(v)],
  ['isolation', (v) => ['', 'default'].includes(v)],
  ['outputs', (v) => v === '' || v === '[]' || v === 'null'],
  ['memory', (v) => v === '' || v === '0'],
  ['memswap', (v) => v === '' || v === '0'],
  ['cpushares', (v) => v === '' || v === '0'],
  ['cpusetcpus', (v) => v === ''],
  ['cpusetmems', (v) => v === ''],
  ['cpuperiod', (v) => v === '' || v === '0'],
  ['cpuquota', (v) => v === '' || v === '0'],
  ['shmsize', (v) => v === '' || v === '0'],
  ['cgroupparent', (v) => v === ''],
  // Steps run on this host: its own platform only.
  ['platform', (v) => ['', 'linux', `linux/${HOST_ARCH}`].includes(v)],
];

/**
 * X-Registry-Config: base64 (URL-safe or not) JSON of registry -> auth config
 * ({username, password, auth: base64 "user:pass", identitytoken}), the
 * credentials docker build sends for its FROM pulls. Unreadable: none, as
 * Docker ignores it.
 */
export function registryAuthsOf(header: string | string[] | undefined): engineV1.RegistryAuth[] {
  if (typeof header !== 'string' || !header) return [];
  let doc: Record<string, Record<string, unknown>>;
  try {
    doc = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, Record<string, unknown>>;
  } catch {
    return [];
  }
  if (!doc || typeof doc !== 'object') return [];
  const s = (v: unknown): string => (typeof v === 'string' ? v : '');
  return Object.entries(doc).flatMap(([server, a]) => {
    if (!a || typeof a !== 'object') return [];
    let username = s(a['username']);
    let password = s(a['password']);
    if (!username && s(a['auth'])) {
      const plain = Buffer.from(s(a['auth']), 'base64').toString('utf8');
      const colon = plain.indexOf(':');
      if (colon > 0) { username = plain.slice(0, colon); password = plain.slice(colon + 1); }
    }
    const identityToken = s(a['identitytoken']);
    if (!username && !identityToken) return [];
    return [{ serverAddress: s(a['serveraddress']) || server, username, password, identityToken }];
  });
}

/** BuildOptions from the query, as docker build's flags would make them. */
export function buildOptions(q: URLSearchParams): engineV1.BuildOptions {
  if (q.get('version') === '2') throw notImplemented('BuildKit (version=2; build with DOCKER_BUILDKIT=0, the classic builder)');
  for (const [name, isDefault] of UNSUPPORTED) {
    const v = q.get(name);
    if (v !== null && !isDefault(v)) throw notImplemented(`the build option ${name}=${v}`);
  }
  const dockerfile = q.get('dockerfile') ?? '';
  if (dockerfile.startsWith('/') || dockerfile.split('/').includes('..')) {
    throw new InvalidArgumentError(`invalid dockerfile "${dockerfile}": the Dockerfile's path is relative to the build context and stays inside it`, { field: 'dockerfile' });
  }
  return {
    dockerfile, tags: q.getAll('t').filter(Boolean), buildArgs: stringMap(q, 'buildargs'), target: q.get('target') ?? '',
    noCache: boolParam(q, 'nocache'), pull: boolParam(q, 'pull'), labels: stringMap(q, 'labels'),
  };
}

/** What a quiet build keeps of its output to show with a failure. */
const MAX_QUIET_OUTPUT = 1 << 20;

/**
 * Splits the Builder's progress into Docker's {"stream"} messages, one per
 * line (a line's end may come in a later chunk), and holds "Successfully
 * built ..." and what follows until the result's id went out as aux first.
 */
class BuildStream {
  private partial = '';
  private held: string[] = [];
  private started = false;
  private quietLines: string[] = [];
  private quietSize = 0;

  constructor(private readonly res: ServerResponse, private readonly quiet: boolean) {}

  get headersSent(): boolean {
    return this.started;
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, { 'Content-Type': 'application/json' });
    this.res.flushHeaders();
  }

  private send(m: Record<string, unknown>): boolean {
    this.start();
    return this.res.write(JSON.stringify(m) + '\r\n');
  }

  private line(text: string): boolean {
    if (this.held.length || text.startsWith('Successfully built ')) {
      this.held.push(text);
      return true;
    }
    if (!this.quiet) return this.send({ stream: text });
    // Quiet: the output is kept (bounded) for a failure, as Docker shows it then.
    if (this.quietSize + text.length <= MAX_QUIET_OUTPUT) {
      this.quietLines.push(text);
      this.quietSize += text.length;
    }
    return true;
  }

  /** Returns false when the client's socket is full. */
  progress(chunk: Buffer): boolean {
    this.start();
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split(/(?<=\n)/);
    this.partial = lines.at(-1)?.endsWith('\n') ? '' : lines.pop() ?? '';
    let ok = true;
    for (const l of lines) ok = this.line(l) && ok;
    return ok;
  }

  private flushPartial(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  result(imageId: string): void {
    this.flushPartial();
    this.send({ aux: { ID: imageId } });
    if (!this.quiet) for (const l of this.held) this.send({ stream: l });
    else this.send({ stream: `${imageId}\n` });
    this.held = [];
  }

  fail(e: unknown): void {
    this.flushPartial();
    for (const l of this.quiet ? this.quietLines : this.held) this.send({ stream: l });
    this.held = [];
    this.quietLines = [];
    const message = e instanceof Error ? e.message : String(e);
    this.send({ errorDetail: { message }, error: message });
  }
}

export function registerBuild(router: Router, b: Backends): void {
  router.add('POST', '/build', async (req, res) => {
    const q = req.query;
    const options = { ...buildOptions(q), registryAuths: registryAuthsOf(req.raw.headers['x-registry-config']) };
    const out = new BuildStream(res, boolParam(q, 'q'));
    const aborted = new AbortController();
    // The client went away (docker build interrupted): the build stops after its running step is cleaned up.
    res.once('close', () => { if (!res.writableFinished) aborted.abort(); });
    const call = b.builder.Build({ signal: aborted.signal }) as unknown as Duplex;
    let result: engineV1.BuildResult__Output | null = null;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (m: BuildMsg) => {
        // The client reads slowly: the Builder's stream waits (and its RUN output with it).
        if (m.progress && m.progress.length && !out.progress(m.progress) && !call.isPaused()) {
          call.pause();
          res.once('drain', () => call.resume());
        }
        if (m.result) result = m.result;
      });
      call.on('end', () => resolve());
      call.on('error', reject);
    });
    done.catch(() => undefined);
    const sending = sendContext(req.raw, call, options, done);
    sending.catch(() => undefined);
    try {
      await Promise.all([sending, done]);
      const r = result as engineV1.BuildResult__Output | null;
      if (!r) throw new InvalidArgumentError('the engine ended the build without a result', { field: 'context' });
      out.result(r.imageId);
      res.end();
    } catch (e) {
      if (aborted.signal.aborted) return;
      if (!out.headersSent) {
        sendError(res, e);
        req.raw.resume();
        return;
      }
      out.fail(e);
      res.end();
    }
  });
  router.add('POST', '/build/prune', async () => { throw notImplemented('build cache prune'); });
}

/** Options first, then the request body as the context, with the client's backpressure. */
async function sendContext(body: IncomingMessage, call: Duplex, options: engineV1.BuildOptions, done: Promise<void>): Promise<void> {
  call.write({ options });
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (!call.write({ context: chunk })) await Promise.race([once(call, 'drain'), done]);
  }
  call.end();
}
