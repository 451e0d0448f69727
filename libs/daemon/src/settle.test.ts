import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { trimWhenSettled } from './settle';

describe('trimWhenSettled', () => {
  it('trims once start-up settled, again after a major GC of the window, and not after the window', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const trims: boolean[] = [];
    const windowMs = 3000;
    const settling = trimWhenSettled((released) => trims.push(released), 50, windowMs);
    try {
      await vi.waitFor(() => expect(trims.length).toBeGreaterThanOrEqual(1), { timeout: 5000 });
      const settled = trims.length;
      gc(); // a full, major GC: the memory reducer's kind
      await vi.waitFor(() => expect(trims.length).toBeGreaterThan(settled), { timeout: 5000 });
      await new Promise((r) => setTimeout(r, windowMs));
      const atWindowEnd = trims.length;
      gc();
      await new Promise((r) => setTimeout(r, 2000));
      expect(trims).toHaveLength(atWindowEnd);
    } finally {
      settling.stop();
    }
  }, 20_000);
});
