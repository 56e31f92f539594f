/**
 * Operator surfaces without services: the activity interceptor's log fields, failure lines and
 * retry counter (through the SDK's MockActivityEnvironment, which runs real interceptors), the
 * SDK log adapter, metric route labels and the Prometheus exposition of the registry.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { activityInterceptors, activityLogFields, activityLogger } from '../../src/activities/interceptors';
import { temporalSdkLogger } from '../../src/logger';
import { registry, recordOperationFinished, activityRetries } from '../../src/metrics';
import { routePattern } from '../../src/api/openapi';
import { parsePrometheusText, sampleValue } from '../support/prometheus';

const LIFECYCLE = '3f0c8a52-6d1e-4b7a-9c1f-2a4b6c8d0e1f';
const WORKFLOW = `decky-web-01-deploy-${LIFECYCLE}`;

function captureLogger() {
  const lines: Record<string, any>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe('activityLogFields', () => {
  test('a decky workflow id gives the decky (dashes included) and the lifecycle id', () => {
    expect(activityLogFields(WORKFLOW, [])).toEqual({ workflow_id: WORKFLOW, decky: 'web-01', lifecycle_id: LIFECYCLE });
  });

  test('otherwise the arguments: a lifecycle uuid, {lifecycleId, deckyName}, a DeckySpec or a plan holding one', () => {
    expect(activityLogFields('mutate-web-schedule', [LIFECYCLE, { ok: true }])).toEqual({ workflow_id: 'mutate-web-schedule', lifecycle_id: LIFECYCLE });
    expect(activityLogFields(undefined, [{ lifecycleId: LIFECYCLE, deckyName: 'db' }])).toEqual({ lifecycle_id: LIFECYCLE, decky: 'db' });
    expect(activityLogFields('wf', [{ name: 'ws-02', ip: '10.0.0.5', services: ['ssh'] }, 'macvlan'])).toEqual({ workflow_id: 'wf', decky: 'ws-02' });
    expect(activityLogFields('wf', [{ decky: { name: 'ws-03', ip: '10.0.0.6' }, network: {} }])).toEqual({ workflow_id: 'wf', decky: 'ws-03' });
    expect(activityLogFields('wf', ['not-a-uuid'])).toEqual({ workflow_id: 'wf' });
  });
});

describe('activity interceptor', () => {
  const info = (attempt: number) => ({
    activityType: 'composeUp',
    attempt,
    workflowExecution: { workflowId: WORKFLOW, runId: 'run-1' },
  });

  test('gives the activity a child logger with workflow_id, lifecycle_id, decky, activity and attempt', async () => {
    const { logger, lines } = captureLogger();
    const env = new MockActivityEnvironment(info(1), { interceptors: [activityInterceptors(logger)], logger: temporalSdkLogger(logger) });
    const result = await env.run(
      async (spec: { name: string; ip: string }) => {
        activityLogger().info({ step: 'pull' }, 'inside');
        return spec.name;
      },
      { name: 'web-01', ip: '10.0.0.5' },
    );
    expect(result).toBe('web-01');
    const fields = { workflow_id: WORKFLOW, lifecycle_id: LIFECYCLE, decky: 'web-01', activity: 'composeUp', attempt: 1 };
    expect(lines.find((l) => l.msg === 'inside')).toMatchObject({ ...fields, step: 'pull', level: 30 });
    // Success is debug: no per-activity noise at info.
    expect(lines.find((l) => l.msg === 'activity completed')).toMatchObject({ ...fields, level: 20 });
    expect(lines.filter((l) => l.level >= 30 && l.msg !== 'inside')).toEqual([]);
  });

  test('a failed attempt is logged once, at warn, with the product fields; a retry attempt is counted', async () => {
    const { logger, lines } = captureLogger();
    const before = (await activityRetries.get()).values.find((v) => v.labels.activity === 'composeUp')?.value ?? 0;
    const env = new MockActivityEnvironment(info(3), { interceptors: [activityInterceptors(logger)], logger: temporalSdkLogger(logger) });
    await expect(
      env.run(async () => {
        throw ApplicationFailure.create({ type: 'MissingImage', message: 'image decnet/vnc:latest is missing', nonRetryable: true });
      }),
    ).rejects.toThrow('image decnet/vnc:latest is missing');
    // Ours and the SDK's own "Activity failed" (which the adapter drops) would both match here.
    const failures = lines.filter((l) => /^activity failed$/i.test(l.msg));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      level: 40,
      workflow_id: WORKFLOW,
      lifecycle_id: LIFECYCLE,
      decky: 'web-01',
      activity: 'composeUp',
      attempt: 3,
      non_retryable: true,
      err: { message: 'image decnet/vnc:latest is missing' },
    });
    const after = (await activityRetries.get()).values.find((v) => v.labels.activity === 'composeUp')?.value;
    expect(after).toBe(before + 1);
  });

  test('a first attempt is not a retry', async () => {
    const { logger } = captureLogger();
    const env = new MockActivityEnvironment(
      { ...info(1), activityType: 'verifyDecky' },
      { interceptors: [activityInterceptors(logger)], logger: temporalSdkLogger(logger) },
    );
    await env.run(async () => 'ok');
    expect((await activityRetries.get()).values.find((v) => v.labels.activity === 'verifyDecky')).toBeUndefined();
  });
});

describe('temporalSdkLogger', () => {
  test('SDK lines become pino JSON with our field names; INFO chatter and the duplicate failure line are dropped', () => {
    const { logger, lines } = captureLogger();
    const sdk = temporalSdkLogger(logger, 'WARN');
    sdk.info('Worker state changed', { state: 'RUNNING' });
    sdk.warn('Activity failed', { workflowId: WORKFLOW, error: new Error('x') });
    sdk.warn('Workflow task failed', { workflowId: WORKFLOW, activityType: 'composeUp', taskToken: 'abc', error: new Error('nondeterminism') });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: 'Workflow task failed',
      component: 'temporal-sdk',
      workflow_id: WORKFLOW,
      activity: 'composeUp',
      err: { message: 'nondeterminism' },
    });
    expect(lines[0].taskToken).toBeUndefined();
  });
});

describe('metrics', () => {
  test('HTTP route labels are the documented patterns, never raw paths', () => {
    expect(routePattern('/api/v1/deckies/web-01')).toBe('/api/v1/deckies/{name}');
    expect(routePattern('/api/v1/deckies/web-01/mutate')).toBe('/api/v1/deckies/{name}/mutate');
    expect(routePattern('/api/v1/deckies/lifecycle')).toBe('/api/v1/deckies/lifecycle');
    expect(routePattern('/api/v1/deckies/deploy')).toBe('/api/v1/deckies/deploy');
    expect(routePattern('/api/v1/deckies/')).toBe('/api/v1/deckies');
    expect(routePattern('/docs/swagger-ui-bundle.js')).toBe('/docs');
    expect(routePattern('/wp-admin/../etc/passwd')).toBe('unmatched');
    expect(routePattern('/api/v1/deckies/a/b/c')).toBe('unmatched');
  });

  test('a terminal row counts once by operation and outcome, with its duration; the exposition parses', async () => {
    const startedAt = new Date('2026-01-01T00:00:00Z');
    recordOperationFinished({ operation: 'teardown', status: 'failed', startedAt, completedAt: new Date('2026-01-01T00:00:07Z') });
    recordOperationFinished({ operation: 'teardown', status: 'running', startedAt, completedAt: null }); // not terminal: ignored
    const families = parsePrometheusText(await registry.metrics());
    expect(sampleValue(families, 'decnet_operations_total', { operation: 'teardown', outcome: 'failed' })).toBe(1);
    expect(sampleValue(families, 'decnet_operations_total', { operation: 'deploy', outcome: 'succeeded' })).toBe(0);
    expect(sampleValue(families, 'decnet_operation_duration_seconds_bucket', { operation: 'teardown', outcome: 'failed', le: '5' })).toBe(0);
    expect(sampleValue(families, 'decnet_operation_duration_seconds_bucket', { operation: 'teardown', outcome: 'failed', le: '10' })).toBe(1);
    expect(sampleValue(families, 'decnet_operation_duration_seconds_sum', { operation: 'teardown', outcome: 'failed' })).toBe(7);
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.get('decnet_http_request_duration_seconds')?.type).toBe('histogram');
  });

  test('the parser is strict', () => {
    expect(() => parsePrometheusText('x_total 1\n')).toThrow(/no declared TYPE/);
    expect(() => parsePrometheusText('# TYPE x counter\nx{a="1} 1\n')).toThrow();
    expect(() => parsePrometheusText('# TYPE x counter\nx{a="\\q"} 1\n')).toThrow(/bad escape/);
    expect(() => parsePrometheusText('# TYPE x counter\nx 1\nx 2\n')).toThrow(/duplicate/);
    expect(() => parsePrometheusText('# TYPE x counter\nx one\n')).toThrow(/bad value/);
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(/cumulative/);
  });
});
