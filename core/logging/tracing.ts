import { context, propagation, trace, SpanStatusCode, type Context, type Span, type TextMapGetter } from '@opentelemetry/api';

/** What `startTracing` needs: the node config's `tracing` block. */
export interface TracingConfig {
  enabled: boolean;
  endpoint: string;
  serviceName: string;
}

/** Process-wide tracing, once started: `shutdown` flushes the spans still buffered. */
export interface Tracing {
  shutdown(): Promise<void>;
}

let running: Promise<Tracing> | undefined;

/**
 * Starts OpenTelemetry for this process when `config.enabled`: spans are batched and sent over
 * OTLP/HTTP (JSON) to `config.endpoint`, W3C `traceparent` is the propagation format, and the
 * active span follows async calls. The SDK is loaded only then; without it every span below is a
 * no-op. Started once per process (the roles of `d7y up` share it).
 */
export function startTracing(config: TracingConfig): Promise<Tracing> | undefined {
  if (!config.enabled) return undefined;
  running ??= (async () => {
    const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { W3CTraceContextPropagator }, { AsyncLocalStorageContextManager }] = await Promise.all([
      import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/exporter-trace-otlp-http'), import('@opentelemetry/resources'),
      import('@opentelemetry/core'), import('@opentelemetry/context-async-hooks'),
    ]);
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.endpoint }), { scheduledDelayMillis: 1000 })],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    return { shutdown: () => provider.shutdown().catch(() => undefined) };
  })();
  return running;
}

const tracer = () => trace.getTracer('d7y');

/** Headers (or gRPC metadata entries) carrying the active span, e.g. `traceparent`; empty when tracing is off. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** Reads a carrier whose values may be arrays (HTTP headers) or gRPC metadata values. */
const getter: TextMapGetter<Record<string, unknown>> = {
  keys: (c) => Object.keys(c),
  get: (c, key) => {
    const v = c[key];
    if (Array.isArray(v)) return v.map(String);
    return v === undefined ? undefined : String(v);
  },
};

/** The context a caller sent in `carrier` (HTTP headers, or gRPC metadata as `getMap()` returns it). */
export function remoteContext(carrier: Record<string, unknown>): Context {
  return propagation.extract(context.active(), carrier, getter);
}

/**
 * Runs `fn` inside a span named `name` (a child of `parent`, else of the active span), with the
 * task id as `d7y.task_id` when known; the span ends when `fn` settles, an error marks it failed.
 */
export async function inSpan<T>(name: string, attributes: Record<string, string | number | undefined>, fn: (span: Span) => Promise<T>, parent?: Context): Promise<T> {
  const span = tracer().startSpan(name, { attributes: clean(attributes) }, parent ?? context.active());
  try {
    return await context.with(trace.setSpan(parent ?? context.active(), span), () => fn(span));
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: String((err as Error).message ?? err) });
    throw err;
  } finally {
    span.end();
  }
}

/** A span that a caller ends itself (a stream's life), child of `parent`. */
export function startSpan(name: string, attributes: Record<string, string | number | undefined>, parent: Context): Span {
  return tracer().startSpan(name, { attributes: clean(attributes) }, parent);
}

function clean(attributes: Record<string, string | number | undefined>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(attributes).filter((e): e is [string, string | number] => e[1] !== undefined));
}
