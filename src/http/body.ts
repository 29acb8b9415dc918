import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

type OnError = (c: Context) => Response | Promise<Response>;

/**
 * Refuses bodies over `maxSize` bytes. A request that declares its length (Content-Length, no
 * Transfer-Encoding) is judged on that header alone, as hono's bodyLimit() does, but without touching
 * the body: under @hono/node-server, asking for it turns the light request into a full fetch Request
 * with a web stream, a cost every webhook paid twice (bench/webhooks.ts). Node's parser never delivers
 * more bytes than the declared length. Other requests (chunked) go through bodyLimit(), which counts.
 */
export function limitBody(maxSize: number, onError: OnError): MiddlewareHandler {
  const counting = bodyLimit({ maxSize, onError });
  return async (c, next) => {
    const declared = declaredLength(c.req.header('content-length'), c.req.header('transfer-encoding'));
    if (declared !== undefined) {
      if (declared > maxSize) return onError(c);
      await next();
      return;
    }
    return counting(c, next);
  };
}

/**
 * The body length a request declares (Content-Length without Transfer-Encoding), which Node's parser holds
 * it to; undefined for a request that does not declare it (chunked). NaN for an unreadable header.
 */
export function declaredLength(
  contentLength: string | undefined,
  transferEncoding: string | undefined,
): number | undefined {
  if (contentLength === undefined || transferEncoding !== undefined) return undefined;
  return Number.parseInt(contentLength, 10);
}

/** A Node request's body, read from its stream (which nothing may have read yet). */
export function readRequestBody(incoming: IncomingMessage): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.once('end', () => resolve(Buffer.concat(chunks)));
    incoming.once('error', reject);
    incoming.once('aborted', () => reject(new Error('request aborted')));
  });
}

/**
 * The request body as the exact bytes received (signature checks need them). Under @hono/node-server
 * with nobody having read the body yet, straight from Node's request stream; otherwise through the
 * fetch Request.
 */
export async function rawBody(c: Context): Promise<Buffer> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || typeof incoming.on !== 'function' || incoming.readableDidRead || incoming.readableEnded) {
    return Buffer.from(await c.req.arrayBuffer());
  }
  return readRequestBody(incoming);
}
