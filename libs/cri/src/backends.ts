// The berth contracts the CRI translates onto: the engine (pods and their
// containers are engine containers), images (Images and Transfer on the
// images socket), and the namespaces service for the one thing the engine's
// contract lacks (signalling one exec'd process). Only generated clients: the CRI never reads a service's
// state.
import { MAX_TIMEOUT_MS, createClient, type BerthClient } from '@berth/kit';
import type { engineV1, imagesV1, namespacesV1 } from '@berth/proto';

export interface Backends {
  engine: BerthClient<engineV1.EngineDefinition, engineV1.EngineHandlers>;
  images: BerthClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>;
  transfer: BerthClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>;
  /** Only to kill an ExecSync past its timeout (the engine's exec stream has no signal message). */
  namespaces: BerthClient<namespacesV1.NamespacesDefinition, namespacesV1.NamespacesHandlers>;
  close(): void;
}

/** Calls that wait on a container (stop with a long grace period, exec) get the longest deadline. */
export const LONG_CALL = { timeoutMs: MAX_TIMEOUT_MS };

export function createBackends(addressesOf: (service: 'engine' | 'images' | 'namespaces') => string[]): Backends {
  const opts = { timeoutMs: 120_000 };
  const b = {
    engine: createClient<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', addressesOf('engine'), opts),
    images: createClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', addressesOf('images'), opts),
    transfer: createClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>('berth.images.v1.Transfer', addressesOf('images'), opts),
    namespaces: createClient<namespacesV1.NamespacesDefinition, namespacesV1.NamespacesHandlers>('berth.namespaces.v1.Namespaces', addressesOf('namespaces'), opts),
  };
  return { ...b, close: () => { for (const c of Object.values(b)) c.close(); } };
}
