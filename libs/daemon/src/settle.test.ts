import { describe, expect, it, vi } from 'vitest';
import { trimWhenSettled } from './settle';

describe('trimWhenSettled', () => {
  it('trims once the process is quiet after start-up, not while its event loop is busy, and only once', async () => {
    const trims: boolean[] = [];
    // A busy loop: 40 ms of every 50 blocked.
    const spin = setInterval(() => {
      const t = Date.now();
      while (Date.now() - t < 40) {
        /* busy */
      }
    }, 50);
    const settling = trimWhenSettled((released) => trims.push(released), 200, 200);
    try {
      await new Promise((r) => setTimeout(r, 1500));
      expect(trims).toHaveLength(0);
      clearInterval(spin);
      await vi.waitFor(() => expect(trims).toHaveLength(1), { timeout: 5000, interval: 50 });
      await new Promise((r) => setTimeout(r, 1000));
      expect(trims).toHaveLength(1);
    } finally {
      clearInterval(spin);
      settling.stop();
    }
  }, 20_000);
});
