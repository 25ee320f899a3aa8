import net from "node:net";

/** One client connection through the relay. */
export interface RelayedConnection {
  /** What the client sent (the HTTP request lines, headers and body). */
  sent: string;
  /** Who closed it first: the client (an aborted call), the server, or nobody yet. */
  closedBy: "client" | "server" | null;
}

export interface Relay {
  /** Like `http://127.0.0.1:PORT`: stands for the upstream's origin. */
  origin: string;
  connections: RelayedConnection[];
  close(): Promise<void>;
}

/**
 * A TCP relay in front of the scripted server that notes which side closes each connection:
 * the proof that a call given up on was really aborted (its socket closed by the client), not
 * just abandoned with the request still hanging on the server.
 */
export async function startRelay(upstreamPort: number): Promise<Relay> {
  const connections: RelayedConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const conn: RelayedConnection = { sent: "", closedBy: null };
    connections.push(conn);
    const upstream = net.connect(upstreamPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    const closed = (by: "client" | "server") => () => {
      conn.closedBy ??= by;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("data", (chunk: Buffer) => {
      conn.sent += chunk.toString("utf8");
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("close", closed("client"));
    upstream.on("close", closed("server"));
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
