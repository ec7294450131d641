// @medplum/core reads `WebSocket` when it is loaded; Node 20 has no global WebSocket. The FHIR
// code uses only Medplum's FHIRPath, definitions and validator, never its subscriptions.
(globalThis as { WebSocket?: unknown }).WebSocket ??= class {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
};
export {};
