import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Public } from '../auth/permissions.decorator.js';
import { ApiGraphErrors, ERRORS_OF } from '../common/errors/api-graph-errors.decorator.js';
import { DatabaseLifecycle } from '../database/database-lifecycle.service.js';

const PROBE_TIMEOUT_MS = 2000;
const HEALTHY = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', enum: ['ok'] } },
  example: { status: 'ok' },
};

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly database: DatabaseLifecycle,
  ) {}

  @Get('live')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    operationId: 'health_Live',
    summary: 'Liveness: the process answers',
    description: 'No token needed.',
    security: [],
  })
  @ApiOkResponse({ description: 'OK: the process answers.', schema: HEALTHY })
  @ApiGraphErrors(ERRORS_OF.probe)
  live() {
    return { status: 'ok' };
  }

  /** 200 only when the database answers; 503 (envelope, Retry-After) otherwise. */
  @Get('ready')
  @Public()
  @ApiOperation({
    operationId: 'health_Ready',
    summary: 'Readiness: the database answers',
    description: 'No token needed. 200 only when the database answers; 503 otherwise.',
    security: [],
  })
  @ApiOkResponse({ description: 'OK: the database answers.', schema: HEALTHY })
  @ApiGraphErrors(ERRORS_OF.probe)
  async ready() {
    this.database.assertReady();
    await Promise.race([
      this.dataSource.query('SELECT 1'),
      new Promise((_, reject) =>
        setTimeout(
          () =>
            reject(Object.assign(new Error('Connection terminated: readiness probe timed out'), { code: 'ETIMEDOUT' })),
          PROBE_TIMEOUT_MS,
        ).unref(),
      ),
    ]);
    return { status: 'ok' };
  }
}
