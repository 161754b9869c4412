import { Module } from '@nestjs/common';
import { DeliveryModule } from './delivery/delivery.module.js';
import { SubscriptionsModule } from './subscriptions/subscriptions.module.js';

/**
 * Change notifications. Writes record them in their own statements (persistence/record-notifications.ts);
 * this module serves the subscriptions and delivers what was recorded.
 */
@Module({ imports: [SubscriptionsModule, DeliveryModule] })
export class NotificationsModule {}
