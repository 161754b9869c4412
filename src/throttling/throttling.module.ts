import { Global, Module } from '@nestjs/common';
import { ThrottleCountersStore } from './throttle-counters.store.js';
import { Throttler } from './throttler.service.js';

@Global()
@Module({ providers: [Throttler, ThrottleCountersStore], exports: [Throttler] })
export class ThrottlingModule {}
