import { Module } from '@nestjs/common';
import { OutboundModule } from '../outbound/outbound.module.js';

/** The subscription API: `/subscriptions`, with the validation handshake before a create or a move. */
@Module({ imports: [OutboundModule] })
export class SubscriptionsModule {}
