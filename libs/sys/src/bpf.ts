// bpf(2) for cgroup device programs (BPF_PROG_TYPE_CGROUP_DEVICE): load a
// program given as raw instructions, attach it to a cgroup2 directory, list
// and detach what is attached. That is all berth needs of eBPF (the v2
// devices "controller" is such a program, as runc's and crun's are), so no
// maps, no BTF, no object files. glibc has no wrapper: syscall(2) with the
// architecture's number. The kernel copies `union bpf_attr` up to the size
// passed and requires anything it does not know to be zero.
import { closeSync } from 'node:fs';
import { FailedPreconditionError } from '@berth/errors';
import { libc, koffi, lastErrno, errorFromErrno } from './libc';

const syscall_ = libc.func('long syscall(long number, ...)');

/** __NR_bpf per architecture (arch/x86/entry/syscalls, include/uapi/asm-generic/unistd.h). */
const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280, ia32: 357, arm: 386, riscv64: 280, ppc64: 361, s390x: 351 };

/** bpf(2) commands (include/uapi/linux/bpf.h, enum bpf_cmd). */
export const BPF_CMD = { PROG_LOAD: 5, PROG_ATTACH: 8, PROG_DETACH: 9, PROG_GET_FD_BY_ID: 13, PROG_QUERY: 16 } as const;
/** BPF_PROG_TYPE_CGROUP_DEVICE (enum bpf_prog_type). */
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
/** BPF_CGROUP_DEVICE (enum bpf_attach_type). */
export const BPF_CGROUP_DEVICE = 6;
/** Attach flags: several programs per cgroup, all must allow (what runc and crun use). */
export const BPF_F = { ALLOW_OVERRIDE: 1, ALLOW_MULTI: 2, REPLACE: 4 } as const;

const ProgLoadAttr = koffi.struct('berth_bpf_prog_load', {
  prog_type: 'uint32_t',
  insn_cnt: 'uint32_t',
  insns: 'const void *',
  license: 'const char *',
  log_level: 'uint32_t',
  log_size: 'uint32_t',
  log_buf: 'void *',
  kern_version: 'uint32_t',
  prog_flags: 'uint32_t',
  prog_name: koffi.array('char', 16),
  prog_ifindex: 'uint32_t',
  expected_attach_type: 'uint32_t',
});
const AttachAttr = koffi.struct('berth_bpf_prog_attach', {
  target_fd: 'uint32_t',
  attach_bpf_fd: 'uint32_t',
  attach_type: 'uint32_t',
  attach_flags: 'uint32_t',
  replace_bpf_fd: 'uint32_t',
});
const QueryAttr = koffi.struct('berth_bpf_prog_query', {
  target_fd: 'uint32_t',
  attach_type: 'uint32_t',
  query_flags: 'uint32_t',
  attach_flags: 'uint32_t',
  prog_ids: 'void *',
  prog_cnt: 'uint32_t',
});
const GetFdAttr = koffi.struct('berth_bpf_get_fd', { prog_id: 'uint32_t', next_id: 'uint32_t', open_flags: 'uint32_t' });

function bpf(cmd: number, type: unknown, attr: object, what: string, inout = false): number {
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new FailedPreconditionError(`bpf(2): no syscall number known for architecture ${process.arch}`);
  const ptr = koffi.pointer(type as never);
  const ret = Number(syscall_(nr, 'int', cmd, inout ? koffi.inout(ptr) : ptr, attr, 'uint32_t', koffi.sizeof(type as never)) as number | bigint);
  if (ret < 0) throw errorFromErrno(lastErrno(), what);
  return ret;
}

/**
 * Loads a cgroup device program (`insns`: 8 bytes per instruction, struct
 * bpf_insn little-endian) and returns its fd. A program the verifier refuses
 * fails with the verifier's log in the message. Close the fd when done: an
 * attached program stays alive as long as the cgroup holds it.
 */
export function loadDeviceProgram(insns: Buffer, license: string, name = 'berth_dev'): number {
  if (insns.length === 0 || insns.length % 8 !== 0) throw new FailedPreconditionError(`bpf program: ${insns.length} bytes is not a whole number of 8-byte instructions`);
  const log = Buffer.alloc(64 * 1024);
  const attr = {
    prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
    insn_cnt: insns.length / 8,
    insns,
    license,
    log_level: 1,
    log_size: log.length,
    log_buf: log,
    kern_version: 0,
    prog_flags: 0,
    prog_name: name.slice(0, 15),
    prog_ifindex: 0,
    expected_attach_type: BPF_CGROUP_DEVICE,
  };
  try {
    return bpf(BPF_CMD.PROG_LOAD, ProgLoadAttr, attr, 'bpf PROG_LOAD (cgroup device program)');
  } catch (e) {
    const text = log.toString('utf8', 0, Math.max(0, log.indexOf(0))).trim();
    if (text) (e as Error).message += `; verifier: ${text.split('\n').slice(-6).join(' | ')}`;
    throw e;
  }
}

/** BPF_PROG_ATTACH of a device program to the cgroup2 directory open as `cgroupFd`. */
export function attachDeviceProgram(cgroupFd: number, progFd: number, flags: number = BPF_F.ALLOW_MULTI): void {
  bpf(BPF_CMD.PROG_ATTACH, AttachAttr, { target_fd: cgroupFd, attach_bpf_fd: progFd, attach_type: BPF_CGROUP_DEVICE, attach_flags: flags, replace_bpf_fd: 0 }, 'bpf PROG_ATTACH (cgroup device program)');
}

/** BPF_PROG_DETACH of one attached device program (by an fd of it). */
export function detachDeviceProgram(cgroupFd: number, progFd: number): void {
  bpf(BPF_CMD.PROG_DETACH, AttachAttr, { target_fd: cgroupFd, attach_bpf_fd: progFd, attach_type: BPF_CGROUP_DEVICE, attach_flags: 0, replace_bpf_fd: 0 }, 'bpf PROG_DETACH (cgroup device program)');
}

/** Ids of the device programs attached directly to the cgroup (not inherited ones). */
export function queryDevicePrograms(cgroupFd: number): number[] {
  for (let cap = 16; ; cap *= 4) {
    const ids = Buffer.alloc(cap * 4);
    const attr = { target_fd: cgroupFd, attach_type: BPF_CGROUP_DEVICE, query_flags: 0, attach_flags: 0, prog_ids: ids, prog_cnt: cap };
    try {
      bpf(BPF_CMD.PROG_QUERY, QueryAttr, attr, 'bpf PROG_QUERY (cgroup device programs)', true);
    } catch (e) {
      if ((e as { errno?: string }).errno === 'ENOSPC' && cap < 4096) continue;
      throw e;
    }
    // koffi copies the struct back: prog_cnt is the kernel's count.
    const n = Math.min(attr.prog_cnt, cap);
    return Array.from({ length: n }, (_, i) => ids.readUInt32LE(i * 4));
  }
}

/** An fd for the program with this id (BPF_PROG_GET_FD_BY_ID). */
export function deviceProgramFdById(id: number): number {
  return bpf(BPF_CMD.PROG_GET_FD_BY_ID, GetFdAttr, { prog_id: id, next_id: 0, open_flags: 0 }, `bpf PROG_GET_FD_BY_ID ${id}`);
}

/**
 * Attaches `progFd` to the cgroup and then detaches every device program that
 * was attached before (runc's order: the cgroup is never without a program,
 * and for the instant both are attached both must allow, so nothing is allowed
 * that neither version allows).
 */
export function replaceDevicePrograms(cgroupFd: number, progFd: number): void {
  const old = queryDevicePrograms(cgroupFd);
  attachDeviceProgram(cgroupFd, progFd, BPF_F.ALLOW_MULTI);
  for (const id of old) {
    let fd: number;
    try {
      fd = deviceProgramFdById(id);
    } catch (e) {
      if ((e as { errno?: string }).errno === 'ENOENT') continue; // gone meanwhile
      throw e;
    }
    try {
      detachDeviceProgram(cgroupFd, fd);
    } finally {
      closeSync(fd);
    }
  }
}
