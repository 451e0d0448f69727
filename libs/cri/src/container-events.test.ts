// Which engine events are CRI container events, and of which pod.
import { describe, expect, it } from 'vitest';
import type { engineV1 } from '@berth/proto';
import { criEventOf } from './container-events';
import { KIND_LABEL, SANDBOX_LABEL } from './metadata';

const ev = (action: string, attributes: Record<string, string>, id = 'c1'): engineV1.Event__Output =>
  ({ type: 'container', action, id, name: 'n', image: 'i', timeUnixMs: 1, attributes });

describe('criEventOf', () => {
  const inPod = { [KIND_LABEL]: 'container', [SANDBOX_LABEL]: 'pod1' };
  it('maps created, started, die and removed to the four CRI events, in the pod of the container', () => {
    expect(['created', 'started', 'die', 'removed'].map((a) => criEventOf(ev(a, inPod)))).toEqual([
      { type: 'CONTAINER_CREATED_EVENT', sandboxId: 'pod1' },
      { type: 'CONTAINER_STARTED_EVENT', sandboxId: 'pod1' },
      { type: 'CONTAINER_STOPPED_EVENT', sandboxId: 'pod1' },
      { type: 'CONTAINER_DELETED_EVENT', sandboxId: 'pod1' },
    ]);
  });
  it('a sandbox is its own pod', () => {
    expect(criEventOf(ev('started', { [KIND_LABEL]: 'sandbox' }, 'pod9'))).toEqual({ type: 'CONTAINER_STARTED_EVENT', sandboxId: 'pod9' });
  });
  it('leaves out other actions, containers the CRI did not make, and other event types', () => {
    expect(criEventOf(ev('exited', inPod))).toBeNull();
    expect(criEventOf(ev('exec_started', inPod))).toBeNull();
    expect(criEventOf(ev('started', {}))).toBeNull();
    expect(criEventOf(ev('started', { [KIND_LABEL]: 'container' }))).toBeNull(); // no pod label
    expect(criEventOf({ ...ev('created', inPod), type: 'volume' })).toBeNull();
  });
});
