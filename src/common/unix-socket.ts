// unix:// and unixs:// URLs as etcd 3.4 uses them: the URL must have the form host:port like any
// other, and that host:port text itself is the socket's path, relative to the working directory
// ("unix://localhost:2379" listens on a file named "localhost:2379"). unixs is the same socket
// with TLS on it. Both client and peer URLs may be unix sockets.
import { lstat, unlink } from "node:fs/promises";
import net from "node:net";

export function isUnixUrl(url: string): boolean {
  return url.startsWith("unix:") || url.startsWith("unixs:");
}

/** Whether the URL's scheme means TLS (https, unixs). */
export function isSecureUrl(url: string): boolean {
  return url.startsWith("https:") || url.startsWith("unixs:");
}

/** The socket path of a unix/unixs URL: the text after "//" (etcd's u.Host + u.Path). */
export function unixSocketPath(url: string): string {
  const at = url.indexOf("//");
  if (!isUnixUrl(url) || at < 0) throw new Error(`not a unix socket URL: ${url}`);
  return url.slice(at + 2).replace(/\/$/, "");
}

/** The host name part of a unix URL's host:port ("localhost" for unix://localhost:2379). */
export function unixUrlHost(url: string): string {
  const path = unixSocketPath(url);
  const colon = path.lastIndexOf(":");
  return (colon < 0 ? path : path.slice(0, colon)).replace(/^\[(.*)\]$/, "$1");
}

function inUse(path: string): Error {
  return Object.assign(new Error(`listen unix ${path}: bind: address already in use`), {
    code: "EADDRINUSE",
  });
}

/**
 * Makes way for a listener on `path`: a socket file nobody accepts on any more (left by a process
 * that died) is removed, as etcd's peer listener does; a socket that still accepts, or a file that
 * is not a socket, is left alone and reported as an address in use.
 */
export async function prepareUnixSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!isSocket) throw inUse(path);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) throw inUse(path);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}
