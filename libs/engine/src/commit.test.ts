import { describe, expect, it } from 'vitest';
import { applyChanges } from './commit';
import { emptyImageConfig } from './merge';

describe('commit --change', () => {
  const base = { ...emptyImageConfig(), env: ['PATH=/bin', 'A=1'], cmd: ['sh'], workingDir: '/srv', labels: { x: '1' } };
  it('applies config instructions like Docker', () => {
    const c = applyChanges(base, [
      'CMD ["nginx", "-g", "daemon off;"]', 'ENTRYPOINT /entry.sh --flag', 'ENV A=2 B="two words"', 'ENV LEGACY some value',
      'EXPOSE 80 53/udp', 'LABEL tier=web "quoted key"=v', 'USER app:app', 'WORKDIR data', 'VOLUME ["/v1"]', 'VOLUME /v2 /v3', 'STOPSIGNAL SIGQUIT', 'onbuild RUN x',
    ]);
    expect(c).toEqual({
      user: 'app:app', exposedPorts: ['80/tcp', '53/udp'], env: ['PATH=/bin', 'A=2', 'B=two words', 'LEGACY=some value'],
      entrypoint: ['/bin/sh', '-c', '/entry.sh --flag'], cmd: ['nginx', '-g', 'daemon off;'], volumes: ['/v1', '/v2', '/v3'],
      workingDir: '/srv/data', labels: { x: '1', tier: 'web', 'quoted key': 'v' }, stopSignal: 'SIGQUIT',
    });
    expect(base.env).toEqual(['PATH=/bin', 'A=1']); // input untouched
  });
  it('refuses what commit cannot apply, naming the change', () => {
    expect(() => applyChanges(base, ['RUN apt-get update'])).toThrow('invalid --change "RUN apt-get update": RUN cannot be applied by commit; accepted: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR');
    expect(() => applyChanges(base, ['CMD ["a", 1]'])).toThrow(/expected a JSON array of strings/);
    expect(() => applyChanges(base, ['EXPOSE http'])).toThrow(/invalid port "http"/);
    expect(() => applyChanges(base, ['LABEL novalue'])).toThrow(/expected key=value/);
    expect(() => applyChanges(base, ['ENV A="open'])).toThrow(/unterminated quote/);
    expect(() => applyChanges(base, ['USER '])).toThrow(/missing user/);
  });
});
