/**
 * Channel options of the clients that talk to other d7y nodes: after a node went away, grpc-js
 * tries to connect again with a back-off that grows to 5 s at most (its default grows to 2 min),
 * so a restarted scheduler or peer is reached again within seconds of coming back.
 */
export const RECONNECT_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5_000,
} as const;
