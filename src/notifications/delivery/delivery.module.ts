import { Module } from '@nestjs/common';
import { OutboundModule } from '../outbound/outbound.module.js';
import { DeliveryMetrics } from './delivery-metrics.js';
import { DeliveryWorker } from './delivery-worker.service.js';
import { OutboxStore } from './outbox.store.js';

/** Delivery: works the outbox of every subscription this instance holds a lease on. */
@Module({ imports: [OutboundModule], providers: [OutboxStore, DeliveryMetrics, DeliveryWorker] })
export class DeliveryModule {}
