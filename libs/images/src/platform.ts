// Platforms as image-spec index entries name them, and the host's.
import { InvalidArgumentError } from '@berth/errors';
import type { Platform } from './media-types.js';

/** Node's process.arch -> GOARCH spelling used by the OCI specs. */
const ARCH: Record<string, string> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x',
  riscv64: 'riscv64', loong64: 'loong64', mips: 'mips', mipsel: 'mipsle',
};

export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  const p: Platform = { os: process.platform === 'win32' ? 'windows' : process.platform, architecture };
  if (architecture === 'arm64') p.variant = 'v8';
  if (architecture === 'arm') {
    const v = (process.config.variables as unknown as Record<string, unknown>)['arm_version'];
    p.variant = `v${typeof v === 'string' || typeof v === 'number' ? v : '7'}`;
  }
  return p;
}

/** Parses "os/arch[/variant]" (e.g. linux/arm64/v8). */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '' || !/^[a-z0-9._-]+$/i.test(p))) {
    throw new InvalidArgumentError(`platform ${JSON.stringify(s)}: expected os/arch[/variant], like linux/amd64`, { field: 'platform' });
  }
  const p: Platform = { os: parts[0]!.toLowerCase(), architecture: normalizeArch(parts[1]!.toLowerCase()) };
  if (parts[2]) p.variant = parts[2].toLowerCase();
  return p;
}

function normalizeArch(a: string): string {
  if (a === 'x86_64' || a === 'x86-64') return 'amd64';
  if (a === 'aarch64') return 'arm64';
  if (a === 'i386') return '386';
  return a;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * True when an index entry for `candidate` can run on `want`. arm64's "v8"
 * variant is the default and matches an absent variant (containerd does the same).
 */
export function platformMatches(want: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false;
  if (candidate.os !== want.os || normalizeArch(candidate.architecture) !== want.architecture) return false;
  const dv = (arch: string, v: string | undefined) => v ?? (arch === 'arm64' ? 'v8' : undefined);
  const wv = dv(want.architecture, want.variant);
  const cv = dv(candidate.architecture, candidate.variant);
  return wv === undefined || cv === undefined || wv === cv;
}
