// @medplum/core expects a WebSocket global (Node 20 has none); validation does not use it.
(globalThis as { WebSocket?: unknown }).WebSocket ??= class {};
