import { Metadata } from '@grpc/grpc-js';
import { traceHeaders } from '../../logging/tracing.js';

/** gRPC metadata carrying the active span (`traceparent`), so the server's span joins the caller's trace; empty when tracing is off. */
export function traceMetadata(): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(traceHeaders())) md.set(k, v);
  return md;
}
