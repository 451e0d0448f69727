// cgroup v2 OOM notification: memory.events carries an oom_kill counter and
// the kernel raises a file-modified event (inotify IN_MODIFY) on it whenever a
// counter changes, which fs.watch delivers on the event loop. The callback
// re-reads the counter and reports the increase since the last reading, so
// coalesced events still count every kill.
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { fromNodeError } from '@berth/errors';
import { readOomKillsV2 } from './memory';

export function watchMemoryEvents(dir: string, onOom: (newKills: number) => void): { close(): void } {
  let last = readOomKillsV2(dir);
  let watcher: FSWatcher;
  const check = () => {
    let now: number;
    try {
      now = readOomKillsV2(dir);
    } catch {
      return; // cgroup removed
    }
    if (now > last) {
      const delta = now - last;
      last = now;
      onOom(delta);
    }
  };
  try {
    watcher = watch(join(dir, 'memory.events'), { persistent: false }, check);
  } catch (e) {
    throw fromNodeError(e, `watch ${join(dir, 'memory.events')}`);
  }
  watcher.on('error', () => watcher.close()); // the file vanished with its cgroup
  return { close: () => watcher.close() };
}
