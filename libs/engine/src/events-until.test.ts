import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UntilEnd } from './events-until';

describe('UntilEnd (events --until)', () => {
  beforeEach(() => { vi.useFakeTimers(); });
  afterEach(() => { vi.useRealTimers(); });

  it('an until in the past does not cut a replay short: it ends when the replay caught up', () => {
    const end = vi.fn();
    const u = new UntilEnd(new Date(0), end, 300, 1000);
    vi.advanceTimersByTime(0);
    u.delivered(5);
    vi.advanceTimersByTime(200);
    u.delivered(4);
    vi.advanceTimersByTime(200);
    expect(end).not.toHaveBeenCalled();
    u.delivered(0);
    expect(end).toHaveBeenCalledTimes(1);
    u.delivered(0);
    vi.advanceTimersByTime(1000);
    expect(end).toHaveBeenCalledTimes(1);
  });

  it('an empty replay ends after the idle time', () => {
    const end = vi.fn();
    new UntilEnd(new Date(0), end, 300, 1000);
    vi.advanceTimersByTime(299);
    expect(end).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(end).toHaveBeenCalledTimes(1);
  });

  it('a live stream runs until `until`, then ends at once if caught up', () => {
    const end = vi.fn();
    const u = new UntilEnd(new Date(5000), end, 300, 1000);
    u.delivered(0);
    vi.advanceTimersByTime(3999);
    expect(end).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(end).toHaveBeenCalledTimes(1);
  });
});
