// The CRI's public socket (BERTH_RUN/cri.sock): the kit's authority proxy in
// front of the gRPC server's own socket, refusing to take over a socket a
// running cri service still answers on.
import type { Server } from 'node:net';
import { listenAuthorityProxy, socketInUse } from '@berth/kit';

export async function frontSocket(publicPath: string, serverPath: string): Promise<Server> {
  if (await socketInUse(publicPath)) {
    throw new Error(`${publicPath} is in use: is another berth cri service running? Stop it first (berth daemon down).`);
  }
  return listenAuthorityProxy(publicPath, serverPath);
}
