// The container state machine.
//
//   created ──start──▶ running ◀──unpause── paused
//      │                 │  └────pause────▶   │
//      │               exit                  exit (killed while frozen)
//      │                 ▼                     ▼
//      ├──fail────▶   exited ◀────────────────┘
//      │              │   ▲  └──restart(policy)──▶ restarting ──start──▶ running
//      │              │   └──────────stop───────────┘
//      └──remove──▶ removed ◀──remove── exited
//
// running --exit(policy says restart)--> restarting. Every transition the
// engine makes goes through `transition`, so an illegal one is a
// FailedPrecondition that names the current state, never a silent corruption.
import { FailedPreconditionError } from '@berth/errors';
import type { ContainerState } from './types';

/** What the engine is trying to do; decides the error wording. */
export type Transition =
  | 'start'      // created|exited|restarting -> running
  | 'pause'      // running -> paused
  | 'unpause'    // paused -> running
  | 'exit'       // running|paused|restarting|created -> exited (process gone, or start failed)
  | 'restarting' // running|exited -> restarting (policy scheduled a restart)
  | 'remove';    // created|exited -> removed

const TABLE: Record<Transition, { from: readonly ContainerState[]; to: ContainerState }> = {
  start: { from: ['created', 'exited', 'restarting'], to: 'running' },
  pause: { from: ['running'], to: 'paused' },
  unpause: { from: ['paused'], to: 'running' },
  exit: { from: ['running', 'paused', 'restarting', 'created'], to: 'exited' },
  restarting: { from: ['running', 'exited'], to: 'restarting' },
  remove: { from: ['created', 'exited'], to: 'removed' },
};

export function canTransition(from: ContainerState, t: Transition): boolean {
  return TABLE[t].from.includes(from);
}

/**
 * The state after `t`, or FailedPrecondition worded the way Docker users
 * expect: "container web is not running (state: exited)".
 */
export function transition(name: string, from: ContainerState, t: Transition): ContainerState {
  if (canTransition(from, t)) return TABLE[t].to;
  throw new FailedPreconditionError(illegalMessage(name, from, t), { field: 'state' });
}

function illegalMessage(name: string, from: ContainerState, t: Transition): string {
  const c = `container ${name}`;
  switch (t) {
    case 'start':
      return from === 'removed' ? `${c} has been removed` : `${c} is already ${from} (state: ${from})`;
    case 'pause':
      return from === 'paused' ? `${c} is already paused` : `${c} is not running (state: ${from})`;
    case 'unpause':
      return `${c} is not paused (state: ${from})`;
    case 'exit':
      return `${c} is not running (state: ${from})`;
    case 'restarting':
      return `${c} cannot be restarted by its policy (state: ${from})`;
    case 'remove':
      return from === 'removed'
        ? `${c} has already been removed`
        : `cannot remove ${c}: it is ${from} (state: ${from}); stop it first or use force`;
  }
}

/** Guard for operations that need a live process (exec, top, stats, kill). */
export function requireRunning(name: string, state: ContainerState): void {
  if (state === 'running') return;
  if (state === 'paused') throw new FailedPreconditionError(`container ${name} is paused (state: paused); unpause it first`, { field: 'state' });
  throw new FailedPreconditionError(`container ${name} is not running (state: ${state})`, { field: 'state' });
}
