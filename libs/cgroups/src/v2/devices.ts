// v2 device access: cgroup2 has no devices controller; the kernel instead
// runs the BPF_PROG_TYPE_CGROUP_DEVICE programs attached to a task's cgroup
// (and its ancestors) on every open/mknod of a device node, and the access is
// allowed only if all of them return 1 (Documentation/bpf/prog_cgroup_device,
// kernel/bpf/cgroup.c). berth compiles the OCI rule list into such a program,
// as runc's devicefilter.go and crun's ebpf.c do:
//
//  1. the rules are replayed through an emulator of the v1 controller's
//     semantics (default allow/deny plus exceptions; a type "a" rule resets),
//     starting from "deny all" as runc's emulator does, so a list means the
//     same on v1 and v2 (v1/devices.ts starts from "deny all" too);
//  2. the surviving exceptions, sorted (type b before c, then major, then
//     minor, "any" first, as runc's emulator sorts them), each become a block
//     "if type/access/major/minor match: return !default";
//  3. the program ends with "return default".
//
// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }:
// access_type's low 16 bits are the device type (BPF_DEVCG_DEV_BLOCK 1,
// BPF_DEVCG_DEV_CHAR 2), the high 16 the access (BPF_DEVCG_ACC_MKNOD 1,
// READ 2, WRITE 4). Registers as runc: r2 type, r3 access, r4 major, r5 minor.
import { openSync, closeSync, constants as fsConstants } from 'node:fs';
import { InvalidArgumentError } from '@berth/errors';
import { loadDeviceProgram, replaceDevicePrograms } from '@berth/sys';
import type { LinuxDeviceCgroup } from '../resources';

/** The license string the kernel sees (like MODULE_LICENSE); the program uses no GPL-only helpers. */
export const DEVICE_PROGRAM_LICENSE = 'Apache';

const DEV_BLOCK = 1;
const DEV_CHAR = 2;
const ACC = { m: 1, r: 2, w: 4 } as const;
const ACC_ALL = 7;

/** One exception of the emulated v1 state: type b or c, major/minor (-1 = any), access bits. */
export interface DeviceException {
  type: 'b' | 'c';
  major: number;
  minor: number;
  access: number;
}

/** The v1 controller's state after a rule list: default and exceptions. */
export interface DeviceState {
  defaultAllow: boolean;
  exceptions: DeviceException[];
}

function accessBits(access: string | undefined): number {
  let bits = 0;
  for (const ch of access ?? 'rwm') bits |= ACC[ch as keyof typeof ACC] ?? 0;
  return bits;
}

/**
 * Replays rules as the v1 kernel would (security/device_cgroup.c): "a" sets
 * the default and clears the exceptions; a rule whose verdict differs from the
 * default adds its access to the exception with the same type/major/minor; a
 * rule agreeing with the default removes its access from that exception.
 */
export function emulateDeviceRules(rules: LinuxDeviceCgroup[], initialAllow = false): DeviceState {
  let defaultAllow = initialAllow;
  let exceptions = new Map<string, DeviceException>();
  rules.forEach((r, i) => {
    const type = r.type ?? 'a';
    if (type === 'a') {
      defaultAllow = r.allow;
      exceptions = new Map();
      return;
    }
    if (type !== 'b' && type !== 'c') throw new InvalidArgumentError(`devices[${i}].type: "${type}" is not a, b or c`, { field: `devices[${i}].type` });
    const major = r.major === undefined || r.major < 0 ? -1 : r.major;
    const minor = r.minor === undefined || r.minor < 0 ? -1 : r.minor;
    const key = `${type} ${major} ${minor}`;
    const bits = accessBits(r.access);
    const existing = exceptions.get(key);
    if (r.allow !== defaultAllow) {
      exceptions.set(key, { type, major, minor, access: (existing?.access ?? 0) | bits });
    } else if (existing) {
      existing.access &= ~bits;
      if (existing.access === 0) exceptions.delete(key);
    }
  });
  const sorted = [...exceptions.values()].sort((a, b) => (a.type === b.type ? (a.major === b.major ? a.minor - b.minor : a.major - b.major) : a.type < b.type ? -1 : 1));
  return { defaultAllow, exceptions: sorted };
}

/** One eBPF instruction before encoding (struct bpf_insn). */
export interface BpfInsn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** Opcodes used (include/uapi/linux/bpf.h, bpf_common.h). */
export const OP = {
  LDX_MEM_W: 0x61, // BPF_LDX | BPF_MEM | BPF_W
  AND32_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  RSH32_K: 0x74, // BPF_ALU | BPF_RSH | BPF_K
  MOV32_K: 0xb4, // BPF_ALU | BPF_MOV | BPF_K
  MOV32_X: 0xbc, // BPF_ALU | BPF_MOV | BPF_X
  JNE_K: 0x55, // BPF_JMP | BPF_JNE | BPF_K
  JNE_X: 0x5d, // BPF_JMP | BPF_JNE | BPF_X
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

const insn = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });

/** The program's instructions for a state (see the file header). Jumps are resolved to offsets. */
export function deviceProgramInsns(state: DeviceState): BpfInsn[] {
  const out: BpfInsn[] = [
    insn(OP.LDX_MEM_W, 2, 1, 0, 0), // r2 = ctx->access_type
    insn(OP.AND32_K, 2, 0, 0, 0xffff), // r2 &= 0xffff (type)
    insn(OP.LDX_MEM_W, 3, 1, 0, 0), // r3 = ctx->access_type
    insn(OP.RSH32_K, 3, 0, 0, 16), // r3 >>= 16 (access)
    insn(OP.LDX_MEM_W, 4, 1, 4, 0), // r4 = ctx->major
    insn(OP.LDX_MEM_W, 5, 1, 8, 0), // r5 = ctx->minor
  ];
  const verdict = state.defaultAllow ? 0 : 1;
  for (const e of state.exceptions) {
    const block: BpfInsn[] = [];
    // Every JNE jumps to the next block: its offset is filled in below.
    block.push(insn(OP.JNE_K, 2, 0, 0, e.type === 'b' ? DEV_BLOCK : DEV_CHAR));
    if (e.access !== ACC_ALL) {
      // if ((r3 & access) != r3) the request wants more than this rule grants
      block.push(insn(OP.MOV32_X, 1, 3, 0, 0), insn(OP.AND32_K, 1, 0, 0, e.access), insn(OP.JNE_X, 1, 3, 0, 0));
    }
    if (e.major >= 0) block.push(insn(OP.JNE_K, 4, 0, 0, e.major | 0));
    if (e.minor >= 0) block.push(insn(OP.JNE_K, 5, 0, 0, e.minor | 0));
    block.push(insn(OP.MOV32_K, 0, 0, 0, verdict), insn(OP.EXIT, 0, 0, 0, 0));
    block.forEach((b, i) => {
      if (b.code === OP.JNE_K || b.code === OP.JNE_X) b.off = block.length - i - 1;
    });
    out.push(...block);
  }
  out.push(insn(OP.MOV32_K, 0, 0, 0, state.defaultAllow ? 1 : 0), insn(OP.EXIT, 0, 0, 0, 0));
  return out;
}

/** struct bpf_insn, little-endian: code u8, dst_reg:4 | src_reg:4 u8, off s16, imm s32. */
export function encodeInsns(insns: BpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((x, i) => {
    buf.writeUInt8(x.code, i * 8);
    buf.writeUInt8(((x.src & 0xf) << 4) | (x.dst & 0xf), i * 8 + 1);
    buf.writeInt16LE(x.off, i * 8 + 2);
    buf.writeInt32LE(x.imm | 0, i * 8 + 4);
  });
  return buf;
}

const NAMES: Record<number, string> = {
  [OP.LDX_MEM_W]: 'LdXMemW', [OP.AND32_K]: 'AndImm32', [OP.RSH32_K]: 'RShImm32', [OP.MOV32_K]: 'MovImm32',
  [OP.MOV32_X]: 'MovReg32', [OP.JNE_K]: 'JNEImm', [OP.JNE_X]: 'JNEReg', [OP.EXIT]: 'Exit',
};

/** A listing in cilium/ebpf's notation (what runc's devicefilter tests compare), one instruction a line. */
export function disassemble(insns: BpfInsn[]): string[] {
  return insns.map((x, i) => {
    const name = NAMES[x.code] ?? `op${x.code.toString(16)}`;
    let s: string;
    switch (x.code) {
      case OP.LDX_MEM_W: s = `dst: r${x.dst} src: r${x.src} off: ${x.off} imm: ${x.imm}`; break;
      case OP.AND32_K: case OP.RSH32_K: case OP.MOV32_K: s = `dst: r${x.dst} imm: ${x.imm}`; break;
      case OP.MOV32_X: s = `dst: r${x.dst} src: r${x.src}`; break;
      case OP.JNE_K: s = `dst: r${x.dst} off: ${x.off} imm: ${x.imm}`; break;
      case OP.JNE_X: s = `dst: r${x.dst} off: ${x.off} src: r${x.src}`; break;
      default: s = '';
    }
    return `${i}: ${name}${s ? ` ${s}` : ''}`;
  });
}

/** The encoded program for a rule list (replayed from "deny all"). */
export function deviceProgram(rules: LinuxDeviceCgroup[]): Buffer {
  return encodeInsns(deviceProgramInsns(emulateDeviceRules(rules)));
}

/**
 * Loads the program for `rules` and attaches it to the cgroup2 directory
 * `dir` (BPF_F_ALLOW_MULTI), then detaches the programs attached before it
 * (an update). The program's fd is closed: the attachment holds the program,
 * and the kernel drops both with the cgroup, so nothing needs pinning.
 */
export function applyDevicesV2(dir: string, rules: LinuxDeviceCgroup[]): void {
  const prog = loadDeviceProgram(deviceProgram(rules), DEVICE_PROGRAM_LICENSE);
  try {
    const cg = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      replaceDevicePrograms(cg, prog);
    } finally {
      closeSync(cg);
    }
  } finally {
    closeSync(prog);
  }
}
