import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './command';
import { BERTH } from './commands';
import { buildExecRequest, buildLogsRequest, buildUpdateRequest } from './requests';

const p = (line: string) => parseCommandLine(BERTH, line.split(' '));
const ENV = { lookupEnv: (k: string) => (k === 'HOME' ? '/root' : undefined), readFile: () => 'FROM_FILE=1\n', cwd: '/' };

describe('exec/update/logs requests', () => {
  it('exec', () => {
    expect(buildExecRequest(p('exec -it -e A=1 -e HOME --env-file f -w /tmp -u 1000:1000 web sh -c ls'), ENV)).toEqual({
      container: 'web', args: ['sh', '-c', 'ls'], env: ['FROM_FILE=1', 'A=1', 'HOME=/root'], workingDir: '/tmp', user: '1000:1000',
      tty: true, stdin: true, detach: false, privileged: false,
    });
    expect(() => buildExecRequest(p('exec -w tmp web ls'), ENV)).toThrow('invalid argument "tmp" for "-w, --workdir": the working directory must be an absolute path');
    expect(() => buildExecRequest(p('exec -u a:b:c web ls'), ENV)).toThrow(/for "-u, --user"/);
    expect(() => buildExecRequest(p('exec -dit web sh'), ENV)).toThrow(/conflicting options/);
  });
  it('update: only given flags', () => {
    expect(buildUpdateRequest(p('update -m 64m --restart on-failure:2 a b'))).toEqual({ containers: ['a', 'b'], memory: 64 << 20, restartPolicy: { name: 'on-failure', maximumRetryCount: 2 } });
    expect(buildUpdateRequest(p('update --cpus 1.5 --pids-limit 50 a'))).toEqual({ containers: ['a'], nanoCpus: 1_500_000_000, pidsLimit: 50 });
    expect(() => buildUpdateRequest(p('update a'))).toThrow(/you must provide one or more flags/);
    expect(() => buildUpdateRequest(p('update -m lots a'))).toThrow(/invalid argument "lots" for "-m, --memory"/);
  });
  it('logs', () => {
    const now = Date.UTC(2024, 0, 1, 12);
    expect(buildLogsRequest(p('logs -f -n 5 -t --since 10m web'), now)).toEqual({ container: 'web', follow: true, tail: 5, since: `${now / 1000 - 600}.000000000`, until: '', timestamps: true });
    expect(buildLogsRequest(p('logs web'), now).tail).toBeUndefined();
    expect(() => buildLogsRequest(p('logs --tail x web'), now)).toThrow(/for "-n, --tail"/);
    expect(() => buildLogsRequest(p('logs --since 1m --until 1h web'), now)).toThrow(/--since \(1m\) is after --until \(1h\)/);
  });
});
