import { setTimeout as sleep } from 'node:timers/promises';
import { context, type DiagLogger, DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  defaultResource,
  detectResources,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
  serviceNameEnvDetector,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { TracingConfig } from '../config/app-config.js';
import type { Logger } from './logger.js';

/** How long shutdown waits for the last spans to reach the collector: the drain's bound is 10 s in all. */
const FLUSH_AT_SHUTDOWN_MS = 3000;

export interface Tracing {
  forceFlush(): Promise<void>;
  /** Exports what is pending (bounded), then gives the API back its no-ops. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK as the API's global provider: W3C Trace Context propagation, the
 * AsyncLocalStorage context, the configured sampler, and batches exported over OTLP http/protobuf (the
 * exporter reads OTEL_EXPORTER_OTLP_*). Called only when `config.tracing` is set, and loaded only then:
 * with tracing off no SDK module is even imported. Spans are created by hand through the API (server
 * spans, statement spans): no auto-instrumentation, which under ESM needs `--import` loader hooks.
 */
export function startTracing(
  config: TracingConfig,
  log: Logger,
  exporter: SpanExporter = new OTLPTraceExporter(),
): Tracing {
  diag.setLogger(diagLogger(log.child({ context: 'OpenTelemetry' })), DiagLogLevel.WARN);
  const provider = new TracerProvider({
    // OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES' service.name over this service's name.
    resource: defaultResource()
      .merge(resourceFromAttributes({ 'service.name': 'threat-assessment-service' }))
      .merge(detectResources({ detectors: [resourceAttributesEnvDetector, serviceNameEnvDetector] })),
    sampler: sampler(config),
    // Bounds what a hostile path can make a span hold.
    spanLimits: { attributeValueLengthLimit: 1024 },
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  const registered =
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()) &&
    propagation.setGlobalPropagator(new W3CTraceContextPropagator()) &&
    trace.setGlobalTracerProvider(provider);
  if (!registered) throw new Error('OpenTelemetry is already started in this process');
  return {
    forceFlush: () => provider.forceFlush(),
    async shutdown() {
      await Promise.race([provider.shutdown(), sleep(FLUSH_AT_SHUTDOWN_MS, undefined, { ref: false })]);
      trace.disable();
      propagation.disable();
      context.disable();
      diag.disable();
    },
  };
}

function sampler({ sampler: name, samplerRatio }: TracingConfig): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(samplerRatio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplerRatio) });
  }
}

/** The SDK's own warnings (an export that failed, a dropped batch) as log lines. */
function diagLogger(log: Logger): DiagLogger {
  const write =
    (level: 'error' | 'warn' | 'debug') =>
    (message: string, ...args: unknown[]) =>
      log[level](args.length > 0 ? { details: args.map(String) } : {}, message);
  return {
    error: write('error'),
    warn: write('warn'),
    info: write('debug'),
    debug: write('debug'),
    verbose: write('debug'),
  };
}
