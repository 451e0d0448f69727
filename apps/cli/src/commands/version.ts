// berth version: the client's version and the engine's. Its own module, so
// the command loads the context and the client only, not every other
// command's code (it is the start-up floor users time).
import { formatEach } from '@berth/cli-kit/start';
import { BERTH_VERSION } from '@berth/kit/client';
import type { engineV1 } from '@berth/proto';
import type { Ctx } from '../context';

/**
 * berth version: the client always (no engine needed), then the server when
 * it answers. A missing engine is reported on stderr with exit 1 only when
 * the user asked for a server field in --format.
 */
export async function version(ctx: Ctx): Promise<number> {
  const client = { Version: BERTH_VERSION, ApiVersion: 'berth.engine.v1', NodeVersion: process.version, Os: process.platform, Arch: process.arch };
  let server: engineV1.VersionResponse__Output | undefined;
  let serverError: unknown;
  try {
    server = await ctx.engine().Version({}, { timeoutMs: 3000 });
  } catch (e) {
    serverError = ctx.explain(e);
  }
  const format = ctx.str('format');
  if (format) {
    const doc = {
      Client: client,
      Server: server ? { Version: server.version, ApiVersion: server.apiVersion, GitCommit: server.gitCommit, NodeVersion: server.nodeVersion, Os: server.os, Arch: server.arch } : null,
    };
    ctx.out(formatEach(format, [doc]));
    if (!server && /\.Server/.test(format)) {
      ctx.err(`berth: ${(serverError as Error).message}\n`);
      return 1;
    }
    return 0;
  }
  ctx.out(`berth version ${BERTH_VERSION}\n`);
  if (server) {
    ctx.out(`\nServer:\n Version:       ${server.version}\n API version:   ${server.apiVersion}\n Git commit:    ${server.gitCommit || '-'}\n Node.js:       ${server.nodeVersion}\n OS/Arch:       ${server.os}/${server.arch}\n`);
  }
  return 0;
}
