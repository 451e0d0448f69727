// A pull's own credentials (PullRequest.credentials: the CRI's AuthConfig,
// the Docker API's X-Registry-Auth) as the registry client takes them. They
// apply to the reference's registry only: a server_address naming another
// registry leaves the stored credentials in charge (containerd's CRI does the
// same), and Docker Hub's historic spellings all name docker.io.
import { parseDockerRef } from './reference.js';
import type { Credentials } from './registry/auth-config.js';

export interface WireRegistryCredentials {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
  serverAddress?: string;
}

const HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** "https://registry.example:5000/v1/" -> "registry.example:5000". */
function hostOf(address: string): string {
  const noScheme = address.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  return noScheme.split('/')[0]!.toLowerCase();
}

/** The credentials to pull `reference` with; undefined = the stored ones. */
export function pullCredentials(w: WireRegistryCredentials | null | undefined, reference: string): Credentials | undefined {
  if (!w || !(w.username || w.password || w.identityToken || w.registryToken)) return undefined;
  if (w.serverAddress) {
    const want = hostOf(w.serverAddress);
    const domain = parseDockerRef(reference).domain.toLowerCase();
    if (want !== domain && !(HUB.has(want) && HUB.has(domain))) return undefined;
  }
  return {
    username: w.username ?? '', password: w.password ?? '',
    ...(w.identityToken ? { identityToken: w.identityToken } : {}),
    ...(w.registryToken ? { registryToken: w.registryToken } : {}),
  };
}
