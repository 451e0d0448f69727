// crictl and critest (cri-tools v1.26.1, ../shared/tools/cri or BERTH_CRI_TOOLS) against a test
// stack's BERTH_RUN/cri.sock, and the fixture critest's container specs pull: busybox (the images
// service's, made from the host's busybox-static) pushed to a local docker-registry that the stack
// treats as the mirror of registry.k8s.io and gcr.io (hosts.toml under BERTH_REGISTRY_CONFIG).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliStack } from './cli-stack';

/** BERTH_CRI_TOOLS, else shared/tools/cri beside the repository, else where the machine keeps it. */
export const CRI_TOOLS = process.env['BERTH_CRI_TOOLS']
  ?? [join(__dirname, '..', '..', '..', 'shared', 'tools', 'cri'), '/work/shared/tools/cri'].find((d) => existsSync(join(d, 'crictl')))
  ?? '/work/shared/tools/cri';

export function criTool(name: 'crictl' | 'critest'): string {
  const path = join(CRI_TOOLS, name);
  if (!existsSync(path)) throw new Error(`${path} not found: set BERTH_CRI_TOOLS to the directory holding crictl and critest (cri-tools v1.26.1)`);
  return path;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runTool(bin: string, args: string[], timeoutMs = 60_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** crictl against the stack's CRI socket, as runtime and image endpoint. */
export function crictl(s: CliStack, args: string[], timeoutMs = 60_000): Promise<ToolResult> {
  const ep = `unix://${join(s.paths.run, 'cri.sock')}`;
  return runTool(criTool('crictl'), ['--runtime-endpoint', ep, '--image-endpoint', ep, '--timeout', '30s', ...args], timeoutMs);
}

/** hosts.toml files making `mirror` (host:port, plain HTTP) the pull mirror of registry.k8s.io and gcr.io. */
export function writeMirrorConfig(dir: string, mirror: string): void {
  for (const registry of ['registry.k8s.io', 'gcr.io']) {
    mkdirSync(join(dir, registry), { recursive: true });
    writeFileSync(join(dir, registry, 'hosts.toml'), `server = "https://${registry}"\n\n[host."http://${mirror}"]\n  capabilities = ["pull", "resolve"]\n`);
  }
}
