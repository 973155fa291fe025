import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from './gateway-metrics.js';

describe('GatewayMetrics', () => {
  it('renders counters, the latency histogram and the running and waiting gauges in Prometheus text format', () => {
    const m = new GatewayMetrics();
    m.queryRunning(1);
    m.queryRunning(1);
    m.queryRunning(-1);
    m.queryFinished('allow', 0.003);
    m.queryWaiting(1);
    m.queryWaiting(1);
    m.queryWaiting(-1);
    m.queryFinished('deny', 0.2);
    m.requestDone('POST /v1/query', 200);
    m.requestDone('POST /v1/query', 200);
    m.requestDone('POST /v1/query', 403);
    const text = m.render();
    expect(text).toContain('hoopq_gateway_queries_total{decision="allow"} 1\n');
    expect(text).toContain('hoopq_gateway_queries_total{decision="deny"} 1\n');
    expect(text).toContain('hoopq_gateway_queries_total{decision="error"} 0\n');
    expect(text).toContain('hoopq_gateway_query_duration_seconds_bucket{le="0.005"} 1\n');
    expect(text).toContain('hoopq_gateway_query_duration_seconds_bucket{le="0.25"} 2\n');
    expect(text).toContain('hoopq_gateway_query_duration_seconds_bucket{le="+Inf"} 2\n');
    expect(text).toContain('hoopq_gateway_query_duration_seconds_count 2\n');
    expect(text).toContain('hoopq_gateway_queries_in_flight 1\n');
    expect(text).toContain('hoopq_gateway_queries_waiting 1\n');
    expect(text).toContain('hoopq_gateway_http_requests_total{route="POST /v1/query",status="200"} 2\n');
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [0-9.e+-]+)$/);
  });
});
