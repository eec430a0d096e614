/**
 * Progress of a long bench on stderr that never goes backwards: on a terminal one line redrawn in
 * place (`\r`), a bar, the current step and an ETA; otherwise (a log file, CI) a plain line each
 * time another tenth of the work is done. Measurements stay on stdout.
 */

/** Where progress goes: process.stderr, or a test's recorder. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** Prefix of every line, e.g. `bench crypto`. */
  label: string;
  /** Units of work in the whole run (rows x rounds, ms of traffic, ...). */
  total: number;
  stream?: ProgressStream;
  /** Injected for tests; performance.now() by default. */
  nowMs?: () => number;
}

const BAR = 28;
/** A terminal line is redrawn at most this often (ms), unless the run is done. */
const REDRAW_MS = 100;
/** Without a terminal, one line per this share of the work. */
const PLAIN_STEP = 0.1;

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly t0: number;
  private shown = 0;
  private lastDraw = -Infinity;
  private lastPlainStep = -1;
  private lastWhat = '';
  private drawn = false;

  constructor(private readonly o: ProgressOptions) {
    if (!(o.total > 0)) throw new RangeError(`total: expected > 0, got ${o.total}`);
    this.stream = o.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.now = o.nowMs ?? (() => performance.now());
    this.t0 = this.now();
  }

  /** The share of the work shown so far: it only grows. */
  get fraction(): number {
    return this.shown;
  }

  /** `done` of `total` units finished; `what` names the current step. A smaller `done` than before changes nothing. */
  update(done: number, what: string): void {
    this.shown = Math.max(this.shown, Math.min(1, Math.max(0, done / this.o.total)));
    this.lastWhat = what;
    if (this.tty) {
      const t = this.now();
      if (t - this.lastDraw < REDRAW_MS && this.shown < 1) return;
      this.lastDraw = t;
      this.draw(what);
      return;
    }
    const step = Math.floor(this.shown / PLAIN_STEP + 1e-9);
    if (step > this.lastPlainStep) {
      this.lastPlainStep = step;
      this.stream.write(`${this.o.label}: ${Math.round(this.shown * 100)}% ${what}\n`);
    }
  }

  /** A message that must not be overwritten: on a terminal, printed above the bar. */
  log(line: string): void {
    if (this.tty && this.drawn) {
      this.stream.write(`\r\x1b[2K${line}\n`);
      this.draw(this.lastWhat);
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Clears the bar (a terminal keeps no trace of it). */
  finish(): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  private draw(what: string): void {
    const full = Math.round(this.shown * BAR);
    const elapsed = (this.now() - this.t0) / 1000;
    const eta = this.shown > 0.02 ? Math.max(0, elapsed / this.shown - elapsed) : NaN;
    const etaText = Number.isFinite(eta) ? `${Math.floor(eta / 60)}:${String(Math.floor(eta % 60)).padStart(2, '0')}` : '-:--';
    this.stream.write(
      `\r\x1b[2K${this.o.label} [${'#'.repeat(full)}${'.'.repeat(BAR - full)}] ${String(Math.floor(this.shown * 100)).padStart(3)}%  ${what}  ETA ${etaText}`,
    );
    this.drawn = true;
  }
}
