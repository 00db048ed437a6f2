// A TCP proxy owned by a test, to partition one operator process from the
// apiserver. TLS passes through as raw bytes, so the client keeps verifying
// the apiserver's certificate (its SANs include 127.0.0.1, whatever the port).
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private listenPort = 0;
  private acceptedCount = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Listens on 127.0.0.1 (a free port the first time, the same port after a cut). */
  async start(): Promise<number> {
    if (this.server) return this.listenPort;
    const server = net.createServer((client) => {
      this.acceptedCount++;
      const upstream = net.connect(this.targetPort, this.targetHost);
      this.sockets.add(client);
      this.sockets.add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
    this.server = server;
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no address');
    this.listenPort = address.port;
    return this.listenPort;
  }

  get port(): number {
    return this.listenPort;
  }

  /** Connections accepted since the proxy was made. */
  get accepted(): number {
    return this.acceptedCount;
  }

  /** Number of open connections (client and upstream sides). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** The partition: resets every open connection and refuses new ones (the listener is closed). */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Heals the partition on the same port. */
  async heal(): Promise<void> {
    await this.start();
  }
}
