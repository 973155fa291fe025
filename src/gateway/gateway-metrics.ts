/**
 * The gateway's counters, rendered in the Prometheus text format (version 0.0.4) on
 * GET /metrics: queries by decision, query latency histogram, queries in flight, queries
 * waiting for a slot (this replica's queue depth), records per audit group commit, HTTP
 * requests by route and status. In memory, reset on restart (Prometheus handles resets).
 */
export type QueryDecision = 'allow' | 'deny' | 'error';

/** Seconds; trivial queries land in the first buckets, long scans in the last. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/** Records made durable by one write+fsync of the audit log. */
const GROUP_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export class GatewayMetrics {
  private readonly queries: Record<QueryDecision, number> = { allow: 0, deny: 0, error: 0 };
  private readonly bucketCounts = new Array<number>(LATENCY_BUCKETS.length).fill(0);
  private latencyCount = 0;
  private latencySum = 0;
  private inFlight = 0;
  private queued = 0;
  private readonly groupCounts = new Array<number>(GROUP_BUCKETS.length).fill(0);
  private groupCommits = 0;
  private groupRecords = 0;
  private readonly requests = new Map<string, number>();
  private readonly startedAt = Date.now();

  queryStarted(): void {
    this.inFlight += 1;
  }

  queryFinished(decision: QueryDecision, seconds: number): void {
    this.inFlight -= 1;
    this.queries[decision] += 1;
    this.latencyCount += 1;
    this.latencySum += seconds;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) this.bucketCounts[i]! += 1;
  }

  /** A query starts waiting for a slot (+1) or stops waiting, granted or not (-1). */
  queueChanged(delta: 1 | -1): void {
    this.queued += delta;
  }

  get queueDepth(): number {
    return this.queued;
  }

  auditGroupCommitted(records: number): void {
    this.groupCommits += 1;
    this.groupRecords += records;
    for (let i = 0; i < GROUP_BUCKETS.length; i++) if (records <= GROUP_BUCKETS[i]!) this.groupCounts[i]! += 1;
  }

  get queriesInFlight(): number {
    return this.inFlight;
  }

  requestDone(route: string, status: number): void {
    const key = `${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  render(): string {
    const lines: string[] = [];
    lines.push('# HELP hoopq_gateway_queries_total Queries by decision (allow, deny, error), as recorded in the audit log.');
    lines.push('# TYPE hoopq_gateway_queries_total counter');
    for (const d of ['allow', 'deny', 'error'] as const) lines.push(`hoopq_gateway_queries_total{decision="${d}"} ${this.queries[d]}`);
    lines.push('# HELP hoopq_gateway_query_duration_seconds Time from request to the end of the response, per query.');
    lines.push('# TYPE hoopq_gateway_query_duration_seconds histogram');
    LATENCY_BUCKETS.forEach((le, i) => lines.push(`hoopq_gateway_query_duration_seconds_bucket{le="${le}"} ${this.bucketCounts[i]}`));
    lines.push(`hoopq_gateway_query_duration_seconds_bucket{le="+Inf"} ${this.latencyCount}`);
    lines.push(`hoopq_gateway_query_duration_seconds_sum ${this.latencySum}`);
    lines.push(`hoopq_gateway_query_duration_seconds_count ${this.latencyCount}`);
    lines.push('# HELP hoopq_gateway_queries_in_flight Queries currently running.');
    lines.push('# TYPE hoopq_gateway_queries_in_flight gauge');
    lines.push(`hoopq_gateway_queries_in_flight ${this.inFlight}`);
    lines.push('# HELP hoopq_gateway_query_queue_depth Queries waiting for a query slot on this replica.');
    lines.push('# TYPE hoopq_gateway_query_queue_depth gauge');
    lines.push(`hoopq_gateway_query_queue_depth ${this.queued}`);
    lines.push('# HELP hoopq_gateway_audit_group_commit_records Audit records made durable by one write and fsync (group commit).');
    lines.push('# TYPE hoopq_gateway_audit_group_commit_records histogram');
    GROUP_BUCKETS.forEach((le, i) => lines.push(`hoopq_gateway_audit_group_commit_records_bucket{le="${le}"} ${this.groupCounts[i]}`));
    lines.push(`hoopq_gateway_audit_group_commit_records_bucket{le="+Inf"} ${this.groupCommits}`);
    lines.push(`hoopq_gateway_audit_group_commit_records_sum ${this.groupRecords}`);
    lines.push(`hoopq_gateway_audit_group_commit_records_count ${this.groupCommits}`);
    lines.push('# HELP hoopq_gateway_http_requests_total HTTP requests by route and status.');
    lines.push('# TYPE hoopq_gateway_http_requests_total counter');
    for (const [key, n] of [...this.requests].sort(([a], [b]) => a.localeCompare(b))) {
      const [route, status] = key.split('\u0000');
      lines.push(`hoopq_gateway_http_requests_total{route="${escapeLabel(route!)}",status="${status}"} ${n}`);
    }
    lines.push('# HELP hoopq_gateway_uptime_seconds Seconds since the gateway started.');
    lines.push('# TYPE hoopq_gateway_uptime_seconds gauge');
    lines.push(`hoopq_gateway_uptime_seconds ${(Date.now() - this.startedAt) / 1000}`);
    return lines.join('\n') + '\n';
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
