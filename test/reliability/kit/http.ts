import { request } from 'node:http';

/**
 * One HTTP request on its own connection (node:http, no keep-alive pool): for bodies the server refuses
 * before reading them (413), which may close the connection mid-upload, and for bytes that fetch would
 * not send as they are (invalid UTF-8, no Content-Length).
 */
export function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array; chunked?: boolean },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const body = typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
    const headers: Record<string, string | number> = { ...init.headers };
    if (body && !init.chunked) headers['content-length'] = body.length;
    // Said explicitly: node's client does not chunk DELETE bodies by default.
    if (body && init.chunked) headers['transfer-encoding'] = 'chunked';
    const req = request(url, { method: init.method ?? 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    // The server may answer and close before the whole body is written: that is not a failure here.
    req.on('error', (err) => {
      if (
        (err as NodeJS.ErrnoException).code === 'EPIPE' ||
        (err as NodeJS.ErrnoException).code === 'ECONNRESET'
      )
        return;
      reject(err);
    });
    if (body) {
      if (init.chunked) {
        // Several chunks and no Content-Length: the limit must hold for streamed bodies too.
        const step = 64 * 1024;
        for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
      } else req.write(body);
    }
    req.end();
  });
}
