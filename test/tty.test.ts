// `berth run -it` and `berth attach` at a real terminal: the CLI runs on a
// pseudo-terminal (test/fixtures/pty_bridge.py) as under a terminal emulator.
// Checked: raw keys reach the container's shell and its output comes back,
// the container's terminal has the host terminal's size and follows a resize
// (SIGWINCH), Ctrl-P Ctrl-Q detaches and leaves the container running, and
// attach then brings the shell back with its exit code. -t without a
// terminal is refused before anything is created.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BERTH_BIN, startCliStack, until, type CliStack } from './support/cli-stack';

const BRIDGE = join(__dirname, 'fixtures', 'pty_bridge.py');

/** `berth args...` on a new pseudo-terminal of rows x cols; keys in, screen out. */
function onTerminal(s: CliStack, args: string[], rows: number, cols: number) {
  const child: ChildProcess = spawn('/usr/bin/python3', [BRIDGE, String(rows), String(cols), process.execPath, BERTH_BIN, ...args], {
    env: { ...s.env, PTY_BRIDGE_CTL_FD: '3', TERM: 'xterm' },
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  child.stdout!.on('data', (d: Buffer) => { screen += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { screen += d.toString(); });
  const exited = new Promise<number>((res) => child.on('close', (code) => res(code ?? -1)));
  return {
    screen: () => screen,
    type: (keys: string) => child.stdin!.write(keys),
    resize: (r: number, c: number) => (child.stdio[3] as NodeJS.WritableStream).write(`${r} ${c}\n`),
    /** Waits until the screen (since `from`) shows `text`. */
    async sees(text: string | RegExp, from = 0): Promise<void> {
      await until(`the terminal to show ${text}`, () => {
        const s = screen.slice(from);
        return (typeof text === 'string' ? s.includes(text) : text.test(s)) || undefined;
      });
    },
    exited,
    kill: () => child.kill('SIGKILL'),
  };
}

describe('berth -it on a terminal', () => {
  let s: CliStack;
  beforeAll(async () => {
    s = await startCliStack(false, 86);
  }, 180_000);
  afterAll(async () => {
    await s?.stop();
  }, 180_000);

  it('runs an interactive shell: keys in, output back, window size and resize, Ctrl-P Ctrl-Q detach, attach and exit code', async () => {
    const t = onTerminal(s, ['run', '-it', '--name', 'tty1', 'busybox', 'sh'], 30, 100);
    try {
      await t.sees('/ # ');
      let mark = t.screen().length;
      t.type('echo $((6*7)); stty size\r');
      await t.sees(/42\r?\r\n30 100/, mark);

      t.resize(40, 120);
      // The CLI forwards the new size on SIGWINCH; the shell sees it at its next command.
      await until('the container terminal to follow the resize', async () => {
        const from = t.screen().length;
        t.type('stty size\r');
        await new Promise((r) => setTimeout(r, 300));
        return t.screen().slice(from).includes('40 120') || undefined;
      });

      mark = t.screen().length;
      t.type('\x10\x11'); // Ctrl-P Ctrl-Q
      expect(await t.exited).toBe(0);
      expect(t.screen().slice(mark)).toMatch(/detached/);
    } finally {
      t.kill();
    }
    expect((await s.berth(['inspect', '--format', '{{.State.Status}}', 'tty1'])).stdout.trim()).toBe('running');

    const a = onTerminal(s, ['attach', 'tty1'], 24, 80);
    try {
      // Attach shows nothing until the shell prints: typing brings the prompt back.
      a.type('echo back-$((1+1))\r');
      await a.sees('back-2');
      a.type('exit 5\r');
      expect(await a.exited).toBe(5);
    } finally {
      a.kill();
    }
    expect((await s.berth(['inspect', '--format', '{{.State.ExitCode}}', 'tty1'])).stdout.trim()).toBe('5');
    expect((await s.berth(['rm', 'tty1'])).code).toBe(0);
  }, 120_000);

  it('exec -it gets its own terminal in a running container', async () => {
    expect((await s.berth(['run', '-d', '--name', 'tty2', 'busybox', 'sleep', '300'])).code).toBe(0);
    const t = onTerminal(s, ['exec', '-it', 'tty2', 'sh'], 25, 90);
    try {
      await t.sees('/ # ');
      const mark = t.screen().length;
      t.type('tty; stty size; exit 3\r');
      await t.sees(/\/dev\/pts\/\d+\r?\r\n25 90/, mark);
      expect(await t.exited).toBe(3);
    } finally {
      t.kill();
    }
    expect((await s.berth(['rm', '-f', 'tty2'])).code).toBe(0);
  }, 60_000);

  it('refuses -t without a terminal, naming it, and creates nothing', async () => {
    const r = await s.berth(['run', '-it', '--name', 'tty3', 'busybox', 'sh']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/not a TTY/);
    expect((await s.berth(['ps', '-aq', '--filter', 'name=tty3'])).stdout.trim()).toBe('');
  });
});
