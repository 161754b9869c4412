import { Module } from '@nestjs/common';
import { OutboundModule } from '../outbound/outbound.module.js';

/** Delivery: works the outbox of every subscription this instance holds a lease on. */
@Module({ imports: [OutboundModule] })
export class DeliveryModule {}
