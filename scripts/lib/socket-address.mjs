// Records the TCP connection of every HTTP request (peer address, local address and port, TLS)
// for lib/http/socket-address.ts, which the client IP and the public origin read: a web Request
// does not carry them. Preloaded with `node --import` by `npm start` and the test server, it wraps
// the 'request' event of every http and https server in the process (`next start` creates its own).
// A server of our own can call `withSocketAddress(req, () => handle(req, res))` instead.
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import https from 'node:https';

/** Node arguments that preload this module into a server process. */
export const socketAddressPreload = ['--import', import.meta.url];

// The same key as lib/http/socket-address.ts: both sides share one store through globalThis.
const STORE_KEY = Symbol.for('smart-sandbox.socket-address');
const store = (globalThis[STORE_KEY] ??= new AsyncLocalStorage());

function normalize(address) {
  return typeof address === 'string' && /^::ffff:\d{1,3}(\.\d{1,3}){3}$/i.test(address) ? address.slice(7) : (address ?? null);
}

/** Runs `fn` with the connection of Node request `req` recorded for lib/http/socket-address.ts. */
export function withSocketAddress(req, fn) {
  const socket = req.socket;
  return store.run(
    {
      remoteAddress: normalize(socket?.remoteAddress),
      localAddress: normalize(socket?.localAddress),
      localPort: socket?.localPort ?? null,
      encrypted: Boolean(socket?.encrypted),
    },
    fn,
  );
}

const WRAPPED = Symbol.for('smart-sandbox.socket-address.wrapped');
for (const proto of [http.Server.prototype, https.Server.prototype]) {
  if (Object.hasOwn(proto, WRAPPED)) continue;
  const emit = proto.emit;
  proto.emit = function emitWithSocketAddress(event, ...args) {
    if (event === 'request' && args[0]?.socket) return withSocketAddress(args[0], () => emit.call(this, event, ...args));
    return emit.call(this, event, ...args);
  };
  proto[WRAPPED] = true;
}
