import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One span as an OTLP collector receives it (the fields the tests read). */
export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  /** OTLP's SpanKind: 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  eventNames: string[];
  resource: Record<string, string | number | boolean>;
}

export interface OtlpCollector {
  /** For OTEL_EXPORTER_OTLP_ENDPOINT: the exporter appends `/v1/traces`. */
  url: string;
  spans: CollectedSpan[];
  /** Every request body as received, to search for what must never be exported. */
  payloads: Buffer[];
  close(): Promise<void>;
}

/**
 * A loopback OTLP/HTTP trace receiver (`POST /v1/traces`, protobuf), decoding just enough of
 * ExportTraceServiceRequest for the tests: the built service exports to it as it would to a collector.
 */
export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const payloads: Buffer[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const accepted =
        req.method === 'POST' && req.url === '/v1/traces' && req.headers['content-type'] === 'application/x-protobuf';
      if (accepted) {
        payloads.push(body);
        spans.push(...decodeExportRequest(body));
      }
      res.writeHead(accepted ? 200 : 404, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    payloads,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

type Field = { number: number; varint?: bigint; bytes?: Buffer };

/** A protobuf message's fields in order: varints, length-delimited bytes; fixed 32/64 as bytes. */
function fields(buffer: Buffer): Field[] {
  const out: Field[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = buffer[offset++];
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (offset < buffer.length) {
    const key = Number(varint());
    const number = key >>> 3;
    switch (key & 7) {
      case 0:
        out.push({ number, varint: varint() });
        break;
      case 1:
        out.push({ number, bytes: buffer.subarray(offset, (offset += 8)) });
        break;
      case 2: {
        const length = Number(varint());
        out.push({ number, bytes: buffer.subarray(offset, (offset += length)) });
        break;
      }
      case 5:
        out.push({ number, bytes: buffer.subarray(offset, (offset += 4)) });
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${key & 7}`);
    }
  }
  return out;
}

const all = (message: Buffer, number: number) => fields(message).filter((f) => f.number === number);
const one = (message: Buffer, number: number) => all(message, number)[0];

function decodeExportRequest(body: Buffer): CollectedSpan[] {
  return all(body, 1).flatMap(({ bytes: resourceSpans }) => {
    const resourceMessage = one(resourceSpans!, 1)?.bytes;
    const resource = resourceMessage ? keyValues(resourceMessage, 1) : {};
    return all(resourceSpans!, 2).flatMap(({ bytes: scopeSpans }) =>
      all(scopeSpans!, 2).map(({ bytes: span }) => ({
        traceId: one(span!, 1)?.bytes?.toString('hex') ?? '',
        spanId: one(span!, 2)?.bytes?.toString('hex') ?? '',
        traceState: one(span!, 3)?.bytes?.toString('utf8') ?? '',
        parentSpanId: one(span!, 4)?.bytes?.toString('hex') ?? '',
        name: one(span!, 5)?.bytes?.toString('utf8') ?? '',
        kind: Number(one(span!, 6)?.varint ?? 0n),
        attributes: keyValues(span!, 9),
        eventNames: all(span!, 11).map(({ bytes: event }) => one(event!, 2)?.bytes?.toString('utf8') ?? ''),
        resource,
      })),
    );
  });
}

/** KeyValue { key = 1; AnyValue value = 2 }, AnyValue { string 1, bool 2, int 3, double 4 }. */
function keyValues(message: Buffer, number: number): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { bytes: kv } of all(message, number)) {
    const key = one(kv!, 1)?.bytes?.toString('utf8') ?? '';
    const value = one(kv!, 2)?.bytes;
    const [field] = value ? fields(value) : [];
    if (!field) continue;
    if (field.number === 1) out[key] = field.bytes!.toString('utf8');
    else if (field.number === 2) out[key] = field.varint === 1n;
    else if (field.number === 3) out[key] = Number(BigInt.asIntN(64, field.varint!));
    else if (field.number === 4) out[key] = field.bytes!.readDoubleLE(0);
  }
  return out;
}
