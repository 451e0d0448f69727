// The berth contracts the gateway translates onto: the engine (containers,
// volumes, events), images (Images and Transfer on the images socket) and
// networks, and the engine's Builder. Only generated clients: the gateway never reads a service's state.
import { MAX_TIMEOUT_MS, createClient, type BerthClient } from '@berth/kit';
import type { engineV1, imagesV1, networksV1 } from '@berth/proto';

export interface Backends {
  engine: BerthClient<engineV1.EngineDefinition, engineV1.EngineHandlers>;
  images: BerthClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>;
  transfer: BerthClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>;
  networks: BerthClient<networksV1.NetworksDefinition, networksV1.NetworksHandlers>;
  /** The engine's Builder (POST /build); its Build stream has no deadline, as a build takes what it takes. */
  builder: BerthClient<engineV1.BuilderDefinition, engineV1.BuilderHandlers>;
  close(): void;
}

/** Calls that wait on a container (wait, stop with a long timeout) get the longest deadline. */
export const LONG_CALL = { timeoutMs: MAX_TIMEOUT_MS };

export function createBackends(addressesOf: (service: 'engine' | 'images' | 'networks') => string[]): Backends {
  const opts = { timeoutMs: 60_000 };
  const b = {
    engine: createClient<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', addressesOf('engine'), opts),
    images: createClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', addressesOf('images'), opts),
    transfer: createClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>('berth.images.v1.Transfer', addressesOf('images'), opts),
    networks: createClient<networksV1.NetworksDefinition, networksV1.NetworksHandlers>('berth.networks.v1.Networks', addressesOf('networks'), opts),
    builder: createClient<engineV1.BuilderDefinition, engineV1.BuilderHandlers>('berth.engine.v1.Builder', addressesOf('engine'), opts),
  };
  return { ...b, close: () => { for (const c of Object.values(b)) c.close(); } };
}
