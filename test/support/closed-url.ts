/**
 * A URL on 127.0.0.1 where nothing listens (any more): every request to it is refused at once,
 * which the library takes for "offline". Tests point the download hosts at it
 * (TSLAB_DL_ZENODO_URL, TSLAB_DL_WEIGHTS_BASE_URL) to run offline whatever the machine's network.
 */
import * as net from 'node:net';

export async function closedUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}
