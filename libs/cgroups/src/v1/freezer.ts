// v1 freezer controller: freezer.state is THAWED, FREEZING or FROZEN. Writing
// FROZEN starts freezing; the state reads FREEZING until every task has
// stopped. A task in an uninterruptible sleep can hold the cgroup in FREEZING,
// so (as runc does) the write is repeated while waiting, and on timeout the
// cgroup is thawed again rather than left half frozen.
import { makeError, ErrorCode } from '@berth/errors';
import { readCgroupFile, writeCgroupFile, sleep } from '../cgroupfs';

export function freezerStateV1(dir: string): string {
  return readCgroupFile(dir, 'freezer.state').trim();
}

export async function freezeV1(dir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    if (i % 10 === 0) writeCgroupFile(dir, 'freezer.state', 'FROZEN');
    if (freezerStateV1(dir) === 'FROZEN') return;
    if (Date.now() > deadline) {
      writeCgroupFile(dir, 'freezer.state', 'THAWED');
      throw makeError(ErrorCode.DeadlineExceeded, `freeze ${dir}: still FREEZING after ${timeoutMs} ms (a task may be in uninterruptible sleep); thawed it again`);
    }
    await sleep(10);
  }
}

export async function thawV1(dir: string): Promise<void> {
  writeCgroupFile(dir, 'freezer.state', 'THAWED');
  for (let i = 0; i < 500 && freezerStateV1(dir) !== 'THAWED'; i++) await sleep(10);
}
