import { Module } from '@nestjs/common';
import { OutboundModule } from '../outbound/outbound.module.js';
import { SubscriptionsController } from './subscriptions.controller.js';
import { SubscriptionsService } from './subscriptions.service.js';
import { SubscriptionsStore } from './subscriptions.store.js';

/** The subscription API: `/subscriptions`, with the validation handshake before a create or a move. */
@Module({
  imports: [OutboundModule],
  controllers: [SubscriptionsController],
  providers: [SubscriptionsService, SubscriptionsStore],
})
export class SubscriptionsModule {}
