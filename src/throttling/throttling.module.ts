import { Global, Module } from '@nestjs/common';
import { Throttler } from './throttler.service.js';

@Global()
@Module({ providers: [Throttler], exports: [Throttler] })
export class ThrottlingModule {}
