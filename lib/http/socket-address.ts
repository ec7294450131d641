/**
 * The TCP connection behind the request being handled: the peer's address (the client, or the
 * proxy in front), the local address and port it reached, and whether it is TLS. A web `Request`
 * does not carry them, so the server records them per request in an AsyncLocalStorage
 * (scripts/lib/socket-address.mjs, preloaded with `node --import` by `npm start` and the test
 * server); this module reads that store. Null when nothing recorded one (an in-process call).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** What the server knows about the connection a request came on. */
export interface SocketAddress {
  /** The peer's IP address, IPv4-mapped IPv6 written as IPv4. */
  readonly remoteAddress: string | null;
  readonly localAddress: string | null;
  readonly localPort: number | null;
  readonly encrypted: boolean;
}

/** Shared by every copy of this module and the preloaded recorder (bundlers may load lib twice). */
const STORE_KEY = Symbol.for('smart-sandbox.socket-address');

type Holder = { [STORE_KEY]?: AsyncLocalStorage<SocketAddress> };

function store(): AsyncLocalStorage<SocketAddress> {
  const g = globalThis as Holder;
  return (g[STORE_KEY] ??= new AsyncLocalStorage<SocketAddress>());
}

/** The connection of the request being handled, or null when the server recorded none. */
export function currentSocketAddress(): SocketAddress | null {
  return store().getStore() ?? null;
}

/** Runs `fn` as if it handled a request that came on `socket` (servers and tests). */
export function runWithSocketAddress<T>(socket: SocketAddress, fn: () => T): T {
  return store().run(socket, fn);
}

/** An IP address as written in headers and audit records: IPv4-mapped IPv6 becomes IPv4. */
export function normalizeAddress(address: string): string {
  const a = address.trim().toLowerCase();
  return /^::ffff:\d{1,3}(\.\d{1,3}){3}$/.test(a) ? a.slice(7) : a;
}
