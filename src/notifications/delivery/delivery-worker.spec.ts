import { describe, expect, it } from 'vitest';
import { nextBatch } from './delivery-worker.service.js';
import type { QueuedRow } from './outbox.store.js';

const NOW = new Date('2026-01-03T10:00:00.000Z');
const later = new Date(NOW.getTime() + 5000);

function row(seq: number, channel: QueuedRow['channel'], nextAttemptAt: Date = NOW): QueuedRow {
  return {
    seq: String(seq),
    id: `n-${seq}`,
    channel,
    event: channel === 'change' ? 'created' : 'missed',
    requestId: channel === 'change' ? 'r' : null,
    resultId: null,
    requestKind: channel === 'change' ? 'urlAssessmentRequest' : null,
    traceparent: null,
    createdAt: NOW,
    attempts: 0,
    firstAttemptAt: null,
    nextAttemptAt,
    dbNow: NOW,
  };
}

describe('nextBatch', () => {
  it('takes the whole head batch of the change queue when its head is due, rows behind included', () => {
    const heads = [row(1, 'change'), row(2, 'change', later), row(3, 'change')];
    expect(nextBatch(heads)).toEqual({ channel: 'change', rows: heads });
  });

  it('sends nothing from a queue whose head waits for its retry (head-of-line)', () => {
    expect(nextBatch([row(1, 'change', later), row(2, 'change'), row(3, 'change')])).toBeUndefined();
    expect(nextBatch([])).toBeUndefined();
  });

  it('serves the lifecycle queue first, and never behind change rows', () => {
    const lifecycle = row(9, 'lifecycle');
    expect(nextBatch([lifecycle, row(1, 'change', later)])).toEqual({ channel: 'lifecycle', rows: [lifecycle] });
    expect(nextBatch([row(9, 'lifecycle', later), row(1, 'change')])).toEqual({
      channel: 'change',
      rows: [row(1, 'change')],
    });
  });
});
