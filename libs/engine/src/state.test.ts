import { describe, expect, it } from 'vitest';
import { isFailedPrecondition } from '@berth/errors';
import { canTransition, transition, type Transition } from './state';
import type { ContainerState } from './types';
import { ADJECTIVES, SURNAMES, generateName, uniqueName, validateContainerName } from './names';

const STATES: ContainerState[] = ['created', 'running', 'paused', 'restarting', 'exited', 'removed'];
// The complete legal table; everything else must be refused.
const LEGAL: Record<Transition, Partial<Record<ContainerState, ContainerState>>> = {
  start: { created: 'running', exited: 'running', restarting: 'running' },
  pause: { running: 'paused' },
  unpause: { paused: 'running' },
  exit: { running: 'exited', paused: 'exited', restarting: 'exited', created: 'exited' },
  restarting: { running: 'restarting', exited: 'restarting' },
  remove: { created: 'removed', exited: 'removed' },
};

describe('state machine', () => {
  for (const [t, table] of Object.entries(LEGAL) as [Transition, Partial<Record<ContainerState, ContainerState>>][]) {
    for (const s of STATES) {
      const to = table[s];
      it(`${t} from ${s} ${to ? `-> ${to}` : 'is refused'}`, () => {
        expect(canTransition(s, t)).toBe(to !== undefined);
        if (to) expect(transition('web', s, t)).toBe(to);
        else {
          try { transition('web', s, t); expect.unreachable(); } catch (e) {
            expect(isFailedPrecondition(e)).toBe(true);
            expect((e as Error).message).toContain('container web');
          }
        }
      });
    }
  }
  it('words the common refusals like Docker', () => {
    const msg = (s: ContainerState, t: Transition) => { try { transition('web', s, t); } catch (e) { return (e as Error).message; } return ''; };
    expect(msg('exited', 'pause')).toBe('container web is not running (state: exited)');
    expect(msg('paused', 'pause')).toBe('container web is already paused');
    expect(msg('running', 'unpause')).toBe('container web is not paused (state: running)');
    expect(msg('running', 'remove')).toMatch(/cannot remove container web: it is running \(state: running\); stop it first or use force/);
  });
});

describe('names', () => {
  it('validates like Docker', () => {
    expect(validateContainerName('/web')).toBe('web');
    expect(validateContainerName('a.b-c_1')).toBe('a.b-c_1');
    for (const bad of ['', 'a', '-web', 'we b', 'wé', '_x']) {
      expect(() => validateContainerName(bad)).toThrow(/invalid container name/);
    }
  });
  it('generates adjective_surname, never boring_wozniak, digits on retry', () => {
    expect(generateName()).toMatch(/^[a-z]+_[a-z]+$/);
    expect(generateName(1)).toMatch(/^[a-z]+_[a-z]+\d$/);
    // Force boring (index of 'boring') + wozniak first, then something else.
    const picks = [ADJECTIVES.indexOf('boring'), SURNAMES.indexOf('wozniak'), ADJECTIVES.indexOf('boring'), 0];
    const rand = () => picks.shift() ?? 0;
    expect(generateName(0, rand)).toBe(`boring_${SURNAMES[0]}`);
  });
  it('uniqueName retries on collision', () => {
    const taken = new Set<string>();
    const rand = () => 0;
    const first = uniqueName((n) => taken.has(n), rand);
    taken.add(first);
    const second = uniqueName((n) => taken.has(n), rand);
    expect(second).toBe(first + '0');
  });
});
