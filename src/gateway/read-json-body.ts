/**
 * Reads a request body as JSON, bounded, and validates it with a strict schema.
 * Input: the request, a zod schema, a byte limit. Output: the parsed value.
 * Invariants: never buffers more than `maxBytes` (a declared or actual larger body is
 * refused with `gateway.request_too_large` and the rest is not read); anything that is not
 * exactly the schema (unknown keys included) is a UsageError naming the first problem.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { UsageError } from '../errors.js';

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function readJsonBody<T extends z.ZodType>(req: IncomingMessage, schema: T, maxBytes: number): Promise<z.infer<T>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    // Also keeps browsers from posting here cross-site without a CORS preflight.
    throw new UsageError('gateway.unsupported_media_type', `refused a request body of type "${type || 'none'}"`, {
      rule: 'gateway.content_type',
      hint: 'send Content-Type: application/json',
    });
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new UsageError('gateway.bad_json', 'refused a request body that is not valid JSON', {
      rule: 'gateway.body',
      hint: 'send one JSON object (see docs/gateway.md)',
    });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `"${issue.path.join('.')}"` : 'the body';
    throw new UsageError('gateway.bad_request', `refused the request: ${where}: ${issue.message}`, {
      rule: 'gateway.body',
      hint: 'see docs/gateway.md for the fields of this endpoint',
    });
  }
  return parsed.data;
}

function tooLarge(maxBytes: number): UsageError {
  return new UsageError('gateway.request_too_large', `refused a request body larger than ${maxBytes} bytes`, {
    rule: 'gateway.max_body',
    hint: `send at most ${maxBytes} bytes (SQL at most 1 MiB)`,
  });
}
