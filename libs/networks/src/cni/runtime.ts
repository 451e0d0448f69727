// A CNI runtime in the manner of libcni: runs a conflist's plugin chain for
// ADD (in order, threading prevResult), DEL (in reverse, from the cached ADD
// result) and CHECK, and keeps the libcni-format result cache.
import { FailedPreconditionError, InvalidArgumentError } from '@berth/errors';
import { ResultCache } from './cache';
import { execPlugin, findPlugin } from './exec';
import type { CniCommand, CniConfList, CniPluginConf, CniResult, CniRuntimeConf } from './types';

export interface CniRuntimeOptions {
  /** Directories searched for plugin binaries, in order (CNI_PATH). */
  cniPath: string[];
  /** libcni's cache dir; results go in <cacheDir>/results. */
  cacheDir: string;
}

export class CniRuntime {
  readonly cache: ResultCache;

  constructor(readonly opts: CniRuntimeOptions) {
    this.cache = new ResultCache(opts.cacheDir);
  }

  /** libcni's buildOneConfig: name and cniVersion from the list, runtimeConfig, prevResult. */
  private pluginConfig(list: CniConfList, plugin: CniPluginConf, rt: CniRuntimeConf, prevResult?: CniResult): object {
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    const runtimeConfig: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
      if (on && rt.capabilityArgs?.[cap] !== undefined) runtimeConfig[cap] = rt.capabilityArgs[cap];
    }
    if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
    if (prevResult) conf.prevResult = prevResult;
    return conf;
  }

  private async run(command: CniCommand, list: CniConfList, plugin: CniPluginConf, rt: CniRuntimeConf, prev?: CniResult): Promise<unknown> {
    const path = await findPlugin(plugin.type, this.opts.cniPath);
    return execPlugin(path, command, this.pluginConfig(list, plugin, rt, prev), rt, this.opts.cniPath);
  }

  /**
   * ADD through the chain; the final result is cached. If a plugin fails, the
   * plugins already run are DELeted (in reverse) so nothing half-made stays,
   * then the error is rethrown.
   */
  async add(list: CniConfList, rt: CniRuntimeConf, prevResult?: CniResult): Promise<CniResult> {
    validate(list);
    // prevResult seeds the chain when the interface was made outside CNI
    // (berth's native datapath) and only later plugins (portmap) run here.
    let prev: CniResult | undefined = prevResult;
    let ran = 0;
    try {
      for (const plugin of list.plugins) {
        prev = (await this.run('ADD', list, plugin, rt, prev)) as CniResult | undefined;
        ran++;
      }
    } catch (e) {
      // ran+1: the failing plugin may have done part of its work.
      await this.delPlugins(list, list.plugins.slice(0, ran + 1), rt, prev).catch(() => undefined);
      throw e;
    }
    if (!prev) throw new FailedPreconditionError(`CNI network ${list.name}: the plugin chain returned no result`);
    await this.cache.write(list, rt.containerId, rt.ifName, prev, rt.args, rt.capabilityArgs);
    return prev;
  }

  private async delPlugins(list: CniConfList, plugins: CniPluginConf[], rt: CniRuntimeConf, prev?: CniResult): Promise<void> {
    let first: unknown;
    for (const plugin of [...plugins].reverse()) {
      try {
        await this.run('DEL', list, plugin, rt, prev);
      } catch (e) {
        // Keep going: DEL must release as much as it can (SPEC: DEL is best effort
        // and idempotent); report the first failure at the end.
        first ??= e;
      }
    }
    if (first) throw first;
  }

  /**
   * DEL through the chain in reverse. Uses the cached config and result when
   * present (so a changed conflist on disk cannot strand the old rules), else
   * `list`. The cache entry is removed once every plugin succeeded.
   */
  async del(list: CniConfList | undefined, rt: CniRuntimeConf): Promise<void> {
    const name = list?.name;
    const cached = name ? await this.cache.read(name, rt.containerId, rt.ifName) : undefined;
    const useList = cached?.list ?? list;
    if (!useList) return;
    const full: CniRuntimeConf = {
      ...rt,
      args: rt.args ?? cached?.entry.cniArgs,
      capabilityArgs: rt.capabilityArgs ?? cached?.entry.capabilityArgs,
    };
    await this.delPlugins(useList, useList.plugins, full, cached?.entry.result);
    await this.cache.remove(useList.name, rt.containerId, rt.ifName);
  }

  /** CHECK through the chain against the cached result. */
  async check(name: string, rt: CniRuntimeConf): Promise<void> {
    const cached = await this.cache.read(name, rt.containerId, rt.ifName);
    if (!cached?.entry.result) {
      throw new FailedPreconditionError(`CNI CHECK: no cached ADD result for container ${rt.containerId} on network ${name}; attach it first`);
    }
    if (cached.list.disableCheck) return;
    const full: CniRuntimeConf = { ...rt, args: cached.entry.cniArgs, capabilityArgs: cached.entry.capabilityArgs };
    for (const plugin of cached.list.plugins) {
      await this.run('CHECK', cached.list, plugin, full, cached.entry.result);
    }
  }
}

function validate(list: CniConfList): void {
  if (!list.name || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(list.name)) {
    throw new InvalidArgumentError(`conflist name "${list.name}" must be letters, digits, _ . -`, { field: 'name' });
  }
  if (!Array.isArray(list.plugins) || list.plugins.length === 0) {
    throw new InvalidArgumentError(`conflist ${list.name} has no plugins`, { field: 'plugins' });
  }
  for (const p of list.plugins) {
    if (typeof p.type !== 'string') throw new InvalidArgumentError(`conflist ${list.name}: a plugin has no type`, { field: 'plugins' });
  }
}
