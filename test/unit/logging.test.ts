/**
 * bridge/logging.ts: JSON lines or pretty lines as `pretty` (or, by default, the destination's
 * being a terminal) says, and key material redacted in both, whatever the log call passes.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED, type LogStream } from '../../bridge/logging.js';

/** A stream that keeps what is written; `isTTY` as a terminal's stream would have it. */
function capture(isTTY = false): { stream: LogStream; text: () => string } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        chunks.push(chunk.toString());
        done();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => chunks.join('') };
}

/** pino-pretty hands lines on through a transform stream: let it run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const PGK_HEX = '00112233445566778899aabbccddeeff';
/** An SGR escape sequence (colours). */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`);
const plain = (s: string): string => s.replace(new RegExp(ANSI.source, 'g'), '');

describe('createLogger', () => {
  it('writes one JSON object per line with the base fields when pretty is false', async () => {
    const out = capture(true);
    const log = createLogger({ level: 'info', base: { svc: 'medium' }, pretty: false, destination: out.stream });
    log.info({ links: 2 }, 'medium: link attached');
    log.debug('below the level');
    await settle();
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, svc: 'medium', links: 2, msg: 'medium: link attached' });
    expect(JSON.parse(lines[0]!)).not.toHaveProperty('pid');
  });

  it('writes colorized pretty lines without svc, pid or hostname when pretty is true', async () => {
    const out = capture(false);
    const log = createLogger({ level: 'info', base: { svc: 'medium' }, pretty: true, destination: out.stream });
    log.info({ links: 2 }, 'medium: link attached');
    await settle();
    const text = out.text();
    expect(text).toContain('medium: link attached');
    expect(text).toMatch(ANSI);
    expect(plain(text)).toContain('links: 2');
    expect(text).not.toContain('svc');
    expect(() => JSON.parse(text)).toThrow();
  });

  it('picks pretty for a terminal and JSON otherwise when pretty is not given', async () => {
    const tty = capture(true);
    const pipe = capture(false);
    createLogger({ level: 'info', base: {}, destination: tty.stream }).info('hello');
    createLogger({ level: 'info', base: {}, destination: pipe.stream }).info('hello');
    await settle();
    expect(tty.text()).toMatch(ANSI);
    expect(() => JSON.parse(tty.text())).toThrow();
    expect(JSON.parse(pipe.text())).toMatchObject({ msg: 'hello' });
  });

  it('redacts pgk fields at any of the known places in JSON and pretty lines, and extra paths on request', async () => {
    const json = capture();
    const pretty = capture();
    const fields = { pgk: PGK_HEX, group: { pgk: PGK_HEX }, pgks: [{ id: 1, pgk: PGK_HEX }], reply: { pgks: [{ pgk: PGK_HEX }] }, secret: 'x', pgkId: 7 };
    createLogger({ level: 'info', base: {}, pretty: false, destination: json.stream, redactPaths: ['secret'] }).info(fields, 'keys');
    createLogger({ level: 'info', base: {}, pretty: true, destination: pretty.stream }).info(fields, 'keys');
    await settle();
    expect(json.text()).not.toContain(PGK_HEX);
    expect(pretty.text()).not.toContain(PGK_HEX);
    expect(pretty.text()).toContain(REDACTED);
    expect(JSON.parse(json.text())).toMatchObject({
      pgk: REDACTED,
      group: { pgk: REDACTED },
      pgks: [{ id: 1, pgk: REDACTED }],
      reply: { pgks: [{ pgk: REDACTED }] },
      secret: REDACTED,
      pgkId: 7,
    });
    // Without the extra path, only key material is redacted.
    expect(plain(pretty.text())).toMatch(/secret: "x"/);
  });
});
