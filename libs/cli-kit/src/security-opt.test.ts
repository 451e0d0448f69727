// `--security-opt` on run/create: a seccomp profile file is read by the CLI
// and sent as its (compacted) JSON, as Docker's CLI does; every option is
// checked before the engine is called.
import { describe, expect, it } from 'vitest';
import { parseCommandLine, type CommandDef } from './command';
import { buildRunRequest, RUN_COMMAND, type RunRequest } from './run-request';

const ROOT: CommandDef = { name: 'berth', usage: '[OPTIONS] COMMAND', description: 'berth', subcommands: [RUN_COMMAND] };
const FILES: Record<string, string> = {
  'profile.json': '{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [ { "names": ["mkdir"], "action": "SCMP_ACT_ERRNO" } ]\n}\n',
  'broken.json': '{ "defaultAction": ',
  'bad-action.json': '{ "defaultAction": "SCMP_ACT_MAYBE" }',
};
function run(...opts: string[]): RunRequest {
  const p = parseCommandLine(ROOT, ['run', ...opts.flatMap((o) => ['--security-opt', o]), 'busybox']);
  return buildRunRequest(p, {
    lookupEnv: () => undefined,
    readFile: (f) => { const c = FILES[f]; if (c === undefined) throw new Error(`ENOENT: no such file ${f}`); return c; },
    cwd: '/',
  });
}
function fails(...opts: string[]): string {
  try { run(...opts); } catch (e) { return (e as Error).message; }
  throw new Error(`expected ${opts.join(' ')} to fail`);
}

describe('--security-opt', () => {
  it('sends a seccomp profile file as its compacted JSON, and the other options as typed', () => {
    expect(run().hostConfig.securityOpt).toEqual([]);
    expect(run('seccomp=profile.json', 'no-new-privileges').hostConfig.securityOpt).toEqual([
      'seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}',
      'no-new-privileges',
    ]);
    expect(run('seccomp:profile.json').hostConfig.securityOpt[0]).toMatch(/^seccomp=\{"defaultAction"/);
    expect(run('seccomp=unconfined', 'no-new-privileges:true', 'no-new-privileges=false').hostConfig.securityOpt)
      .toEqual(['seccomp=unconfined', 'no-new-privileges:true', 'no-new-privileges=false']);
  });

  it('names the bad option, the unreadable file, or the bad part of the profile', () => {
    expect(fails('seccomp=missing.json')).toMatch(/invalid argument "seccomp=missing.json" for "--security-opt": cannot read the seccomp profile: ENOENT/);
    expect(fails('seccomp=broken.json')).toMatch(/the seccomp profile broken.json is not valid JSON/);
    expect(fails('seccomp=bad-action.json')).toMatch(/seccomp profile: defaultAction: unknown value "SCMP_ACT_MAYBE"/);
    expect(fails('no-new-privileges=perhaps')).toMatch(/invalid --security-opt "no-new-privileges=perhaps"/);
    expect(fails('nonsense')).toMatch(/invalid --security-opt "nonsense"/);
  });
});
