import { Module } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { AddressPolicy } from './address-policy.js';
import { WebhookClient } from './webhook-client.js';

/**
 * The one way out to receivers, shared by the handshake and delivery. The address policy is built at
 * start-up: an allow-list entry that is not a host name or a CIDR range fails the start, naming it.
 */
@Module({
  providers: [
    {
      provide: AddressPolicy,
      inject: [APP_CONFIG],
      useFactory: ({ notifications }: AppConfig) =>
        new AddressPolicy({ allowedHosts: notifications.allowedHosts, allowedCidrs: notifications.allowedCidrs }),
    },
    {
      provide: WebhookClient,
      inject: [APP_CONFIG, AddressPolicy],
      useFactory: ({ notifications }: AppConfig, addressPolicy: AddressPolicy) =>
        new WebhookClient({ addressPolicy, allowHttp: notifications.allowHttp }),
    },
  ],
  exports: [AddressPolicy, WebhookClient],
})
export class OutboundModule {}
