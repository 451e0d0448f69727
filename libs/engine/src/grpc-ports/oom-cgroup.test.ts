import { afterEach, beforeEach, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryCgroupDirs } from './oom-cgroup';

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'berth-cg-')); });
afterEach(() => { rmSync(root, { recursive: true, force: true }); });

it('v1: the memory hierarchy directory of the container cgroup', () => {
  mkdirSync(join(root, 'memory', 'berth', 'abc'), { recursive: true });
  expect(memoryCgroupDirs('berth/abc', root)).toEqual([join(root, 'memory', 'berth', 'abc')]);
});

it('v2: the unified directory', () => {
  writeFileSync(join(root, 'cgroup.controllers'), 'memory pids\n');
  mkdirSync(join(root, 'berth', 'abc'), { recursive: true });
  expect(memoryCgroupDirs('berth/abc', root)).toEqual([join(root, 'berth', 'abc')]);
});

it('nothing when the cgroup does not exist or no path was given', () => {
  expect(memoryCgroupDirs('berth/none', root)).toEqual([]);
  expect(memoryCgroupDirs('', root)).toEqual([]);
});
