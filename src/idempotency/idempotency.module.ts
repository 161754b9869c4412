import { Global, Module } from '@nestjs/common';
import { IdempotencyKeys } from './idempotency-keys.service.js';
import { IdempotencyKeysStore } from './idempotency-keys.store.js';

@Global()
@Module({ providers: [IdempotencyKeys, IdempotencyKeysStore], exports: [IdempotencyKeys] })
export class IdempotencyModule {}
