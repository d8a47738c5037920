import type * as OtelApi from '@opentelemetry/api';
import type { Context, Span, SpanStatusCode, TextMapGetter } from '@opentelemetry/api';

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
 * The OpenTelemetry API, once tracing started: until then (and always when tracing is off) it is
 * not even loaded, since its modules cost every process a share of its start-up, and every span
 * below is a no-op.
 */
let api: typeof OtelApi | undefined;

/**
 * Starts OpenTelemetry for this process when `config.enabled`: spans are batched and sent over
 * OTLP/HTTP (JSON) to `config.endpoint`, W3C `traceparent` is the propagation format, and the
 * active span follows async calls. The SDK is loaded only then; without it every span below is a
 * no-op. Started once per process (the roles of `d7y up` share it).
 */
export function startTracing(config: TracingConfig): Promise<Tracing> | undefined {
  if (!config.enabled) return undefined;
  running ??= (async () => {
    const [otel, { BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { W3CTraceContextPropagator }, { AsyncLocalStorageContextManager }] = await Promise.all([
      import('@opentelemetry/api'), import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/exporter-trace-otlp-http'), import('@opentelemetry/resources'),
      import('@opentelemetry/core'), import('@opentelemetry/context-async-hooks'),
    ]);
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': config.serviceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.endpoint }), { scheduledDelayMillis: 1000 })],
    });
    otel.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    otel.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    otel.trace.setGlobalTracerProvider(provider);
    api = otel;
    return { shutdown: () => provider.shutdown().catch(() => undefined) };
  })();
  return running;
}

/** The context of every span while tracing is off. */
const NO_CONTEXT: Context = {
  getValue: () => undefined,
  setValue() { return this; },
  deleteValue() { return this; },
};

/** The span of every span while tracing is off: records nothing. */
const NO_SPAN: Span = {
  spanContext: () => ({ traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: 0 }),
  setAttribute() { return this; },
  setAttributes() { return this; },
  addEvent() { return this; },
  addLink() { return this; },
  addLinks() { return this; },
  setStatus() { return this; },
  updateName() { return this; },
  end: () => undefined,
  isRecording: () => false,
  recordException: () => undefined,
};

/** Headers (or gRPC metadata entries) carrying the active span, e.g. `traceparent`; empty when tracing is off. */
export function traceHeaders(ctx?: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  if (api) api.propagation.inject(ctx ?? api.context.active(), carrier);
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
  return api ? api.propagation.extract(api.context.active(), carrier, getter) : NO_CONTEXT;
}

/** Runs `fn` in the context a caller sent in `carrier` (see remoteContext). */
export function withRemoteContext<T>(carrier: Record<string, unknown>, fn: () => T): T {
  return api ? api.context.with(remoteContext(carrier), fn) : fn();
}

/** The span of the active context, if tracing is on and there is one. */
export function activeSpan(): Span | undefined {
  return api?.trace.getActiveSpan();
}

/** Marks a span failed with `message`. */
export function failSpan(span: Span, message: string): void {
  // SpanStatusCode.ERROR: the enum itself lives in the API's modules, loaded only with tracing.
  span.setStatus({ code: 2 as SpanStatusCode, message });
}

/**
 * Runs `fn` inside a span named `name` (a child of `parent`, else of the active span), with the
 * task id as `d7y.task_id` when known; the span ends when `fn` settles, an error marks it failed.
 */
export async function inSpan<T>(name: string, attributes: Record<string, string | number | undefined>, fn: (span: Span) => Promise<T>, parent?: Context): Promise<T> {
  if (!api) return fn(NO_SPAN);
  const otel = api;
  const span = otel.trace.getTracer('d7y').startSpan(name, { attributes: clean(attributes) }, parent ?? otel.context.active());
  try {
    return await otel.context.with(otel.trace.setSpan(parent ?? otel.context.active(), span), () => fn(span));
  } catch (err) {
    failSpan(span, String((err as Error).message ?? err));
    throw err;
  } finally {
    span.end();
  }
}

/** A span that a caller ends itself (a stream's life), child of `parent`. */
export function startSpan(name: string, attributes: Record<string, string | number | undefined>, parent: Context): Span {
  return api ? api.trace.getTracer('d7y').startSpan(name, { attributes: clean(attributes) }, parent) : NO_SPAN;
}

function clean(attributes: Record<string, string | number | undefined>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(attributes).filter((e): e is [string, string | number] => e[1] !== undefined));
}
