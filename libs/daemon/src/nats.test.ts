// berth's own nats-server is closed to other local users: it runs with a
// token only root can read, a connection without it is refused, services with
// it publish and read events, and a stranger's open server on the port is
// refused instead of adopted.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'nats';
import {
  EventPublisher, freePort, natsFromEnv, parseNatsUrls, startNatsServer, subscribeEvents, type CloudEvent, type NatsServerHandle,
} from '@berth/events';
import { tempPaths, type TempPaths } from '@berth/kit';
import { resolveNats, type NatsChoice } from './nats';

const mode = (p: string) => statSync(p).mode & 0o7777;

describe('berth\'s own NATS server', () => {
  let paths: TempPaths;
  let started: NatsChoice | undefined;
  let stranger: NatsServerHandle | undefined;
  const savedUrl = process.env.NATS_URL;

  beforeEach(() => {
    delete process.env.NATS_URL;
    paths = tempPaths('berth-nats-');
  });
  afterEach(async () => {
    if (started?.process && started.process.exitCode === null) {
      const p = started.process;
      await new Promise<void>((r) => { p.once('exit', () => r()); p.kill('SIGTERM'); });
    }
    started = undefined;
    await stranger?.stop();
    stranger = undefined;
    paths.cleanup();
    if (savedUrl === undefined) delete process.env.NATS_URL;
    else process.env.NATS_URL = savedUrl;
  });

  it('runs with a token in a 0600 file: refused without it, events flow with it, and a second start adopts it', async () => {
    const port = await freePort();
    started = await resolveNats(paths, { port });
    expect(started.process).toBeDefined();
    const tokenFile = `${paths.root}/nats/auth`;
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(mode(tokenFile)).toBe(0o600);
    expect(mode(`${paths.root}/nats/nats-server.conf`)).toBe(0o600);
    expect(mode(`${paths.root}/nats`)).toBe(0o700);
    // Not on the command line, which every local user can read.
    expect(readFileSync(`/proc/${started.process!.pid}/cmdline`, 'utf8')).not.toContain(token);

    await expect(connect({ servers: started.url, timeout: 2000, reconnect: false })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: started.url, token: 'not-the-token', timeout: 2000, reconnect: false })).rejects.toThrow(/authorization/i);

    // A service finds the token the way runApp does (no NATS_URL: berth's own server, BERTH_ROOT/nats/auth).
    const target = natsFromEnv({}, paths.root);
    expect(target.auth).toEqual({ token });
    const pub = new EventPublisher({ servers: started.url, auth: target.auth, service: 'engine' });
    const ac = new AbortController();
    try {
      pub.publish('berth.engine.container.created', { id: 'c1' }, 'c1');
      expect(await pub.flush(10_000)).toBe(true);
      let got: CloudEvent | undefined;
      for await (const ev of subscribeEvents({ servers: started.url, auth: target.auth, startSeq: 1, signal: ac.signal })) {
        got = ev;
        break;
      }
      expect(got?.subject).toBe('c1');
    } finally {
      ac.abort();
      await pub.close(1000);
    }

    // daemon up again (the server was left running detached): it is recognised, not started twice.
    const again = await resolveNats(paths, { port });
    expect(again.process).toBeUndefined();
    expect(again.auth).toEqual({ token });
  }, 60_000);

  it('never adopts a stranger\'s server on the port: starts its own, authenticated, elsewhere and says why', async () => {
    stranger = await startNatsServer();
    started = await resolveNats(paths, { port: stranger.port });
    expect(started.process).toBeDefined();
    expect(started.url).not.toBe(stranger.url);
    expect(started.displaced).toMatch(new RegExp(`127\\.0\\.0\\.1:${stranger.port} is held by a NATS server without authentication`));
    await expect(connect({ servers: started.url, timeout: 2000, reconnect: false })).rejects.toThrow(/authorization/i);
    // Events go to berth's server, none to the stranger's.
    const token = readFileSync(`${paths.root}/nats/auth`, 'utf8').trim();
    const pub = new EventPublisher({ servers: started.url, auth: { token }, service: 'engine' });
    pub.publish('berth.engine.container.created', { id: 'c2' }, 'c2');
    expect(await pub.flush(10_000)).toBe(true);
    await pub.close(1000);
    const snc = await connect({ servers: stranger.url, timeout: 2000 });
    try {
      const streams = await (await snc.jetstreamManager()).streams.names().next();
      expect(streams).toEqual([]);
    } finally {
      await snc.close();
    }
    // An operator who means it says so: NATS_URL is used as given.
    process.env.NATS_URL = stranger.url;
    const chosen = await resolveNats(paths, { port: stranger.port });
    expect(chosen).toMatchObject({ url: stranger.url, auth: {} });
    expect(chosen.process).toBeUndefined();
  }, 30_000);

  it('tightens a token file an older run left readable', async () => {
    const port = await freePort();
    started = await resolveNats(paths, { port });
    const p = started.process!;
    await new Promise<void>((r) => { p.once('exit', () => r()); p.kill('SIGTERM'); });
    chmodSync(`${paths.root}/nats/auth`, 0o644);
    chmodSync(`${paths.root}/nats`, 0o755);
    started = await resolveNats(paths, { port });
    expect(mode(`${paths.root}/nats/auth`)).toBe(0o600);
    expect(mode(`${paths.root}/nats`)).toBe(0o700);
  }, 30_000);
});

describe('NATS credentials from the environment', () => {
  it('takes a token or user:pass out of NATS_URL, and explicit variables win', () => {
    expect(parseNatsUrls('nats://s3cret@10.0.0.1:4222')).toEqual({ servers: 'nats://10.0.0.1:4222', auth: { token: 's3cret' } });
    expect(parseNatsUrls('nats://ann:p%40ss@a:4222,nats://b:4222')).toEqual({ servers: 'nats://a:4222,nats://b:4222', auth: { user: 'ann', pass: 'p@ss' } });
    expect(natsFromEnv({ NATS_URL: 'nats://t1@h:1', NATS_TOKEN: 't2' }, '/nonexistent')).toEqual({ servers: 'nats://h:1', auth: { token: 't2' } });
    expect(natsFromEnv({ NATS_URL: 'nats://h:1', NATS_CREDS: '/etc/berth/nats.creds' }, '/nonexistent')).toEqual({ servers: 'nats://h:1', auth: { credsFile: '/etc/berth/nats.creds' } });
    // No NATS_URL and no token file yet: berth's default server, no credentials.
    expect(natsFromEnv({}, '/nonexistent')).toEqual({ servers: 'nats://127.0.0.1:4222', auth: {} });
  });
});
