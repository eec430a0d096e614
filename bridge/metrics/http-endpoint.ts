/**
 * A small read-only HTTP server (node:http, GET and HEAD) that answers a fixed set of paths, each
 * with a document built at request time: the daemon's `/metrics` and `/profile.json`.
 * A failure to listen is a {@link MetricsListenError} (its message starts with `metrics:`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** Builds the answer to one path at request time. */
export type Document = () => { contentType: string; body: string } | Promise<{ contentType: string; body: string }>;

/** The endpoint could not listen (address in use, not permitted, ...): an error of the set-up, not a bug. */
export class MetricsListenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'MetricsListenError';
  }
}

/** Parses `HOST:PORT` / `[V6]:PORT`; throws a RangeError naming what was expected. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new RangeError(`listen: expected HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464, 0.0.0.0:0), got ${JSON.stringify(listen)}`);
  }
  return { host: m[1] ?? m[2]!, port };
}

const TEXT = 'text/plain; charset=utf-8';

export class MetricsHttpServer {
  private readonly address: { host: string; port: number };
  private server: Server | undefined;
  private boundOrigin: string | undefined;

  constructor(
    /** `HOST:PORT` (`[::1]:PORT` for IPv6; port 0 picks a free one). */
    private readonly listen: string,
    /** Path (e.g. `/metrics`) -> its document. */
    private readonly documents: Readonly<Record<string, Document>>,
    private readonly logger: Logger,
  ) {
    this.address = parseListen(listen);
  }

  /** `http://HOST:PORT` once started, also after `stop()` (the port bound when 0 was asked for). */
  get origin(): string | undefined {
    return this.boundOrigin;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Starts listening (once); rejects with a `metrics: cannot listen on ...` error carrying the errno `code`. */
  async start(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer((req, res) => void this.handle(req, res));
    const { host, port } = this.address;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new MetricsListenError(`metrics: cannot listen on ${this.listen}: ${err.code ?? err.message}`, err.code));
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err }, 'metrics: HTTP server error'));
    this.server = server;
    const addr = server.address();
    const boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
    this.boundOrigin = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  }

  /** Stops listening and drops open connections (a scraper's keep-alive would hold `close` up). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': TEXT }).end('method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const document = Object.hasOwn(this.documents, path) ? this.documents[path] : undefined;
    if (document === undefined) {
      res.writeHead(404, { 'content-type': TEXT }).end(`not found: try ${Object.keys(this.documents).join(' or ')}\n`);
      return;
    }
    try {
      const { contentType, body } = await document();
      res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      this.logger.error({ err, path }, 'metrics: scrape failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': TEXT });
      res.end('internal error\n');
    }
  }
}
