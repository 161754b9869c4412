import { Global, Module } from '@nestjs/common';
import { SkipTokenCodec } from './skiptoken.js';

/** One `$skiptoken` codec (one key, one development-key warning) for every collection that pages. */
@Global()
@Module({ providers: [SkipTokenCodec], exports: [SkipTokenCodec] })
export class ODataModule {}
