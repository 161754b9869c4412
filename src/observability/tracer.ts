import { trace } from '@opentelemetry/api';

/**
 * The service's tracer, from the OpenTelemetry API alone: until the SDK is started (see tracing.ts, loaded
 * only when tracing is configured) it is the API's no-op, and the modules that create spans load no SDK.
 */
export const tracer = trace.getTracer('threat-assessment-service');
