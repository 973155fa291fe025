/**
 * Reads a request body as JSON, bounded, and validates it with a strict schema.
 * Input: the request, a zod schema, a byte limit. Output: the parsed value.
 * Invariants: never buffers more than `maxBytes` (a declared or actual larger body is
 * refused with `gateway.request_too_large` and the rest is not read); the body must be valid
 * UTF-8 (never silently replaced); anything that is not exactly the schema (unknown keys
 * included) is a UsageError naming the first problem. The body's size and SHA-256 are kept
 * for the request (bodySeenOf), so the record of a refusal can name the body without holding it.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { UsageError } from '../errors.js';

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** What was seen of a request body: its size (as far as read or declared) and digest (when read whole). */
export interface BodySeen {
  bytes: number;
  sha256: string | null;
}

const seenBodies = new WeakMap<IncomingMessage, BodySeen>();

export function bodySeenOf(req: IncomingMessage): BodySeen | undefined {
  return seenBodies.get(req);
}

/**
 * Reads what is left of a body nobody read (a request refused before it), bounded in size and
 * time, only to record its size and digest; an oversized or slow body is recorded by size alone.
 */
export async function digestUnreadBody(req: IncomingMessage, maxBytes: number, maxWaitMs = 2_000): Promise<BodySeen> {
  const seen = seenBodies.get(req);
  if (seen) return seen;
  const declared = Number(req.headers['content-length']);
  if (req.readableEnded || req.complete) return { bytes: Number.isFinite(declared) ? declared : 0, sha256: null };
  if (Number.isFinite(declared) && declared > maxBytes) return { bytes: declared, sha256: null };
  const hash = createHash('sha256');
  let bytes = 0;
  const whole = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => done(false), maxWaitMs);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.pause();
      resolve(ok);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) return done(false);
      hash.update(chunk);
    };
    const onEnd = () => done(true);
    const onError = () => done(false);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.resume();
  });
  return { bytes, sha256: whole ? hash.digest('hex') : null };
}

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
  if (Number.isFinite(declared) && declared > maxBytes) {
    seenBodies.set(req, { bytes: declared, sha256: null });
    throw tooLarge(maxBytes);
  }
  const chunks: Buffer[] = [];
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        seenBodies.set(req, { bytes: size, sha256: null });
        throw tooLarge(maxBytes);
      }
      hash.update(chunk);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // the client hung up mid-body, or the server's request timeout cut it: the client's doing, not a bug
    seenBodies.set(req, { bytes: size, sha256: null });
    throw new UsageError('gateway.body_incomplete', 'refused a request whose body did not arrive in full (cut off, or slower than the 30 s request limit)', {
      rule: 'gateway.request_timeout',
      hint: 'send the whole body at once, within 30 s',
    });
  }
  seenBodies.set(req, { bytes: size, sha256: hash.digest('hex') });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new UsageError('gateway.bad_utf8', 'refused a request body that is not valid UTF-8', {
      rule: 'gateway.body',
      hint: 'send the JSON body encoded as UTF-8',
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
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
