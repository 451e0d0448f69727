// CNI 1.0 vocabulary (https://github.com/containernetworking/cni/blob/main/SPEC.md):
// a network configuration list ("conflist") names a network and an ordered
// chain of plugins; the runtime runs ADD through the chain passing each
// plugin's result on as the next one's prevResult, runs DEL in reverse order,
// and CHECK in order against the cached ADD result.

/** One plugin's entry in a conflist; plugin-specific keys pass through untouched. */
export interface CniPluginConf {
  type: string;
  /** Capabilities the plugin accepts as runtimeConfig (portMappings, ips, mac...). */
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: CniPluginConf[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  /** Set when the interface lives in the container's namespace. */
  sandbox?: string;
}

export interface CniIpConfig {
  /** CIDR form: 10.213.0.2/24. */
  address: string;
  gateway?: string;
  /** Index into interfaces. */
  interface?: number;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: { dst: string; gw?: string }[];
  dns?: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] };
}

/** What the runtime passes per invocation besides the config (CNI_* env). */
export interface CniRuntimeConf {
  containerId: string;
  /** Path of the container's network namespace file; '' when it is gone (DEL only). */
  netns: string;
  ifName: string;
  /** CNI_ARGS key=value pairs. */
  args?: [string, string][];
  /** Values for plugins' declared capabilities, injected as runtimeConfig. */
  capabilityArgs?: Record<string, unknown>;
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';
