// The CRI's public socket (BERTH_RUN/cri.sock): the kit's authority proxy in
// front of the gRPC server's own socket, refusing to take over a socket a
// running cri service still answers on.
import { connect, type Server } from 'node:net';
import { listenAuthorityProxy } from '@berth/kit';

async function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function frontSocket(publicPath: string, serverPath: string): Promise<Server> {
  if (await answers(publicPath)) {
    throw new Error(`${publicPath} is in use: is another berth cri service running? Stop it first (berth daemon down).`);
  }
  return listenAuthorityProxy(publicPath, serverPath);
}
