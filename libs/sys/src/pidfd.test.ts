import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { once } from 'node:events';
import { pidfdOpen, pidfdSendSignal, signalName, signalNumber } from './pidfd';

describe('pidfd', () => {
  it('signals a process through its pidfd, and reports ESRCH once it is gone', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    const fd = pidfdOpen(child.pid!);
    try {
      const exited = once(child, 'exit');
      pidfdSendSignal(fd, 'SIGTERM');
      const [code, sig] = await exited;
      expect(code).toBeNull();
      expect(sig).toBe('SIGTERM');
      expect(() => pidfdSendSignal(fd, 0)).toThrow(expect.objectContaining({ errno: 'ESRCH', code: 'NotFound' }));
    } finally {
      closeSync(fd);
      child.kill('SIGKILL');
    }
  });

  it('refuses a pid that does not exist', () => {
    expect(() => pidfdOpen(0x3fffffff)).toThrow(expect.objectContaining({ code: 'NotFound', errno: 'ESRCH' }));
  });

  it('maps signal names and numbers', () => {
    expect(signalNumber('SIGKILL')).toBe(9);
    expect(signalNumber('TERM')).toBe(15);
    expect(signalNumber(2)).toBe(2);
    expect(signalName(9)).toBe('SIGKILL');
    expect(() => signalNumber('SIGNOPE')).toThrow(expect.objectContaining({ code: 'InvalidArgument', field: 'signal' }));
  });
});
