// --ulimit as Docker's CLI reads it.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parseCommandLine, type CommandDef } from './command';
import { buildRunRequest, RUN_COMMAND } from './run-request';

const ROOT: CommandDef = { name: 'berth', usage: '[OPTIONS] COMMAND', description: 'berth', subcommands: [RUN_COMMAND] };
const run = (...argv: string[]) => buildRunRequest(parseCommandLine(ROOT, ['run', ...argv]), { lookupEnv: () => undefined, readFile: () => '', cwd: '/' });

describe('--ulimit', () => {
  it('reads NAME=SOFT[:HARD], -1 unlimited, the last of a name winning', () => {
    expect(run('--ulimit', 'nofile=1024:2048', '--ulimit', 'core=-1', '--ulimit', 'nproc=10', '--ulimit', 'nproc=20', 'alpine').hostConfig.ulimits)
      .toEqual([{ name: 'nofile', soft: 1024, hard: 2048 }, { name: 'core', soft: -1, hard: -1 }, { name: 'nproc', soft: 20, hard: 20 }]);
    expect(run('alpine').hostConfig.ulimits).toBeUndefined();
  });

  it('refuses unknown names, soft above hard and bad shapes, naming the flag', () => {
    for (const bad of ['bogus=1', 'nofile=2:1', 'nofile', 'nofile=x', 'nofile=-1:10']) {
      try {
        run('--ulimit', bad, 'alpine');
        throw new Error(`accepted ${bad}`);
      } catch (e) {
        expect(isInvalidArgument(e), bad).toBe(true);
        expect((e as { field?: string }).field).toBe('ulimit');
      }
    }
  });
});
