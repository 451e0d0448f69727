// The device program generator against runc's own expectations
// (libcontainer/cgroups/devices/devicefilter_test.go: the listings there, in
// cilium/ebpf notation with symbolic jumps, are resolved to offsets here and
// compared instruction by instruction), plus the byte encoding of each
// instruction kind against the kernel's struct bpf_insn layout.
import { describe, it, expect } from 'vitest';
import { deviceProgramInsns, disassemble, emulateDeviceRules, encodeInsns, OP } from './devices';
import type { LinuxDeviceCgroup } from '../resources';

/** runc's listing -> lines "i: Name args" with "off: -1 ... <block-k>" resolved to the real offset. */
function resolveRuncListing(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('//'));
  const blocks = new Map<string, number>();
  let next = 0;
  const insns: { idx: number; body: string }[] = [];
  for (const l of lines) {
    const label = /^(block-\d+):$/.exec(l);
    if (label) {
      blocks.set(label[1]!, next);
      continue;
    }
    const m = /^(\d+): (.*)$/.exec(l);
    if (!m) throw new Error(`unparsed line ${l}`);
    insns.push({ idx: Number(m[1]), body: m[2]! });
    next = Number(m[1]) + 1;
  }
  return insns.map(({ idx, body }) => {
    const sym = /^(.*) <(block-\d+)>$/.exec(body);
    if (!sym) return `${idx}: ${body}`;
    const target = blocks.get(sym[2]!)!;
    return `${idx}: ${sym[1]!.replace('off: -1', `off: ${target - idx - 1}`)}`;
  });
}

const PRELUDE = `
  0: LdXMemW dst: r2 src: r1 off: 0 imm: 0
  1: AndImm32 dst: r2 imm: 65535
  2: LdXMemW dst: r3 src: r1 off: 0 imm: 0
  3: RShImm32 dst: r3 imm: 16
  4: LdXMemW dst: r4 src: r1 off: 4 imm: 0
  5: LdXMemW dst: r5 src: r1 off: 8 imm: 0`;

const listing = (rules: LinuxDeviceCgroup[]) => disassemble(deviceProgramInsns(emulateDeviceRules(rules)));

describe('cgroup v2 device program', () => {
  it('no rules: reject everything (TestDeviceFilter_Nil)', () => {
    expect(listing([])).toEqual(resolveRuncListing(`${PRELUDE}\nblock-0:\n 6: MovImm32 dst: r0 imm: 0\n 7: Exit`));
  });

  it("runc's built-in allow list, Docker's default (TestDeviceFilter_BuiltInAllowList)", () => {
    const c = (major: number, minor: number): LinuxDeviceCgroup => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
    const rules: LinuxDeviceCgroup[] = [
      { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
      { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
      c(1, 3), c(1, 8), c(1, 7), c(5, 0), c(1, 5), c(1, 9), c(136, -1), c(5, 2), c(10, 200),
    ];
    const expected = `${PRELUDE}
block-0:
  6: JNEImm dst: r2 off: -1 imm: 1 <block-1>
  7: MovReg32 dst: r1 src: r3
  8: AndImm32 dst: r1 imm: 1
  9: JNEReg dst: r1 off: -1 src: r3 <block-1>
  10: MovImm32 dst: r0 imm: 1
  11: Exit
block-1:
  12: JNEImm dst: r2 off: -1 imm: 2 <block-2>
  13: MovReg32 dst: r1 src: r3
  14: AndImm32 dst: r1 imm: 1
  15: JNEReg dst: r1 off: -1 src: r3 <block-2>
  16: MovImm32 dst: r0 imm: 1
  17: Exit
block-2:
  18: JNEImm dst: r2 off: -1 imm: 2 <block-3>
  19: JNEImm dst: r4 off: -1 imm: 1 <block-3>
  20: JNEImm dst: r5 off: -1 imm: 3 <block-3>
  21: MovImm32 dst: r0 imm: 1
  22: Exit
block-3:
  23: JNEImm dst: r2 off: -1 imm: 2 <block-4>
  24: JNEImm dst: r4 off: -1 imm: 1 <block-4>
  25: JNEImm dst: r5 off: -1 imm: 5 <block-4>
  26: MovImm32 dst: r0 imm: 1
  27: Exit
block-4:
  28: JNEImm dst: r2 off: -1 imm: 2 <block-5>
  29: JNEImm dst: r4 off: -1 imm: 1 <block-5>
  30: JNEImm dst: r5 off: -1 imm: 7 <block-5>
  31: MovImm32 dst: r0 imm: 1
  32: Exit
block-5:
  33: JNEImm dst: r2 off: -1 imm: 2 <block-6>
  34: JNEImm dst: r4 off: -1 imm: 1 <block-6>
  35: JNEImm dst: r5 off: -1 imm: 8 <block-6>
  36: MovImm32 dst: r0 imm: 1
  37: Exit
block-6:
  38: JNEImm dst: r2 off: -1 imm: 2 <block-7>
  39: JNEImm dst: r4 off: -1 imm: 1 <block-7>
  40: JNEImm dst: r5 off: -1 imm: 9 <block-7>
  41: MovImm32 dst: r0 imm: 1
  42: Exit
block-7:
  43: JNEImm dst: r2 off: -1 imm: 2 <block-8>
  44: JNEImm dst: r4 off: -1 imm: 5 <block-8>
  45: JNEImm dst: r5 off: -1 imm: 0 <block-8>
  46: MovImm32 dst: r0 imm: 1
  47: Exit
block-8:
  48: JNEImm dst: r2 off: -1 imm: 2 <block-9>
  49: JNEImm dst: r4 off: -1 imm: 5 <block-9>
  50: JNEImm dst: r5 off: -1 imm: 2 <block-9>
  51: MovImm32 dst: r0 imm: 1
  52: Exit
block-9:
  53: JNEImm dst: r2 off: -1 imm: 2 <block-10>
  54: JNEImm dst: r4 off: -1 imm: 10 <block-10>
  55: JNEImm dst: r5 off: -1 imm: 200 <block-10>
  56: MovImm32 dst: r0 imm: 1
  57: Exit
block-10:
  58: JNEImm dst: r2 off: -1 imm: 2 <block-11>
  59: JNEImm dst: r4 off: -1 imm: 136 <block-11>
  60: MovImm32 dst: r0 imm: 1
  61: Exit
block-11:
  62: MovImm32 dst: r0 imm: 0
  63: Exit`;
    expect(listing(rules)).toEqual(resolveRuncListing(expected));
  });

  it('privileged: accept everything (TestDeviceFilter_Privileged)', () => {
    expect(listing([{ allow: true, type: 'a', access: 'rwm' }])).toEqual(resolveRuncListing(`${PRELUDE}\nblock-0:\n 6: MovImm32 dst: r0 imm: 1\n 7: Exit`));
  });

  it('allow all but one block device (TestDeviceFilter_PrivilegedExceptSingleDevice)', () => {
    const rules: LinuxDeviceCgroup[] = [
      { allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' },
      { allow: false, type: 'b', major: 8, minor: 0, access: 'rwm' },
    ];
    expect(listing(rules)).toEqual(
      resolveRuncListing(`${PRELUDE}
block-0:
  6: JNEImm dst: r2 off: -1 imm: 1 <block-1>
  7: JNEImm dst: r4 off: -1 imm: 8 <block-1>
  8: JNEImm dst: r5 off: -1 imm: 0 <block-1>
  9: MovImm32 dst: r0 imm: 0
  10: Exit
block-1:
  11: MovImm32 dst: r0 imm: 1
  12: Exit`),
    );
  });

  it('an "a" rule resets what came before it (TestDeviceFilter_Weird: 8:1 allowed, 8:2 not)', () => {
    const rules: LinuxDeviceCgroup[] = [
      { allow: false, type: 'b', major: 8, minor: 1, access: 'rwm' },
      { allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' },
      { allow: false, type: 'b', major: 8, minor: 2, access: 'rwm' },
    ];
    expect(listing(rules)).toEqual(
      resolveRuncListing(`${PRELUDE}
block-0:
  6: JNEImm dst: r2 off: -1 imm: 1 <block-1>
  7: JNEImm dst: r4 off: -1 imm: 8 <block-1>
  8: JNEImm dst: r5 off: -1 imm: 2 <block-1>
  9: MovImm32 dst: r0 imm: 0
  10: Exit
block-1:
  11: MovImm32 dst: r0 imm: 1
  12: Exit`),
    );
  });

  it('a deny after an allow takes its access back, as the v1 kernel does', () => {
    const s = emulateDeviceRules([
      { allow: true, type: 'c', major: 1, minor: 11, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: 11, access: 'w' },
    ]);
    expect(s).toEqual({ defaultAllow: false, exceptions: [{ type: 'c', major: 1, minor: 11, access: 3 }] });
    expect(emulateDeviceRules([{ allow: true, type: 'c', major: 1, minor: 11, access: 'w' }, { allow: false, type: 'c', major: 1, minor: 11, access: 'w' }]).exceptions).toEqual([]);
  });

  it('encodes struct bpf_insn: code, src<<4|dst, little-endian off and imm', () => {
    const b = encodeInsns([
      { code: OP.LDX_MEM_W, dst: 4, src: 1, off: 4, imm: 0 },
      { code: OP.JNE_K, dst: 5, src: 0, off: 3, imm: 200 },
      { code: OP.JNE_X, dst: 1, src: 3, off: -2, imm: 0 },
      { code: OP.MOV32_K, dst: 0, src: 0, off: 0, imm: -1 },
      { code: OP.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    expect(b.toString('hex')).toBe(
      ['6114040000000000', '550503' + '00c8000000', '5d31feff00000000', 'b4000000ffffffff', '9500000000000000'].join(''),
    );
  });
});
