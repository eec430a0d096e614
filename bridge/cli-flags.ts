/**
 * Parsers of flag values, for commander's `.option(flags, description, parser, default)` (and
 * `new Option(...).argParser(...)`). A bad value throws commander's InvalidArgumentError with
 * what was expected; commander prints `error: option '--ues <n>' argument '1' is invalid.
 * expected an integer from 2 to 16` and `main` (cli.ts) exits with status 2. Fixed word sets use
 * `new Option(...).choices([...])` instead. Only commander is imported here: the command
 * declarations load this module before every command.
 */
import { InvalidArgumentError } from 'commander';

/** A parser of one flag value. */
export type FlagParser<T> = (value: string) => T;

interface Bounds {
  min: number;
  max: number;
  /** Only whole numbers. */
  integer?: boolean;
  /** The noun of the message: "expected seconds from 0 to 86400". */
  noun?: string;
}

function bounded({ min, max, integer = false, noun = integer ? 'an integer' : 'a number' }: Bounds): FlagParser<number> {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`expected ${noun} from ${min} to ${max}`);
    }
    return n;
  };
}

/** A number from `min` to `max`. */
export const numberIn = (min: number, max: number): FlagParser<number> => bounded({ min, max });

/** An integer from `min` to `max`. */
export const integerIn = (min: number, max: number): FlagParser<number> => bounded({ min, max, integer: true });

/** A duration in seconds from `min` to `max`. */
export const secondsIn = (min: number, max: number): FlagParser<number> => bounded({ min, max, noun: 'seconds' });

/** A number above 0 (an integer if asked), up to `max` if given. */
export function positive(opts: { integer?: boolean; max?: number } = {}): FlagParser<number> {
  const { integer = false, max = Infinity } = opts;
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`expected a positive ${integer ? 'integer' : 'number'}${max < Infinity ? ` up to ${max}` : ''}`);
    }
    return n;
  };
}

/** A 24-bit Group ID, decimal (`3329`) or 0x-hex (`0x000d01`). */
export const groupId: FlagParser<number> = (value) => {
  const v = value.trim();
  const n = /^0x[0-9a-f]{1,6}$/i.test(v) ? Number.parseInt(v.slice(2), 16) : /^\d{1,8}$/.test(v) ? Number(v) : NaN;
  if (!(n <= 0xffffff)) throw new InvalidArgumentError('expected a 24-bit Group ID (decimal or 0x-hex)');
  return n;
};

/** A probability: `0.1` or `10%`. */
export const probability: FlagParser<number> = (value) => {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$/.exec(value);
  const p = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(p >= 0 && p <= 1)) throw new InvalidArgumentError('expected a probability such as 0.1 or 10%');
  return p;
};

/** Comma-separated items, each checked by `item`; duplicates dropped (in the order given). */
export function commaList<T>(item: FlagParser<T>): FlagParser<T[]> {
  return (value) => {
    const items = value.split(',').map((s) => s.trim());
    if (items.some((s) => s === '')) throw new InvalidArgumentError('expected a comma-separated list');
    return [
      ...new Set(
        items.map((s) => {
          try {
            return item(s);
          } catch (e) {
            if (e instanceof InvalidArgumentError) throw new InvalidArgumentError(`"${s}": ${e.message}`);
            throw e;
          }
        }),
      ),
    ];
  };
}

/** One of `choices`, for items of {@link commaList} (a single value takes `Option.choices`). */
export function choice<const T extends string>(choices: readonly T[]): FlagParser<T> {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected ${choices.length <= 2 ? choices.join(' or ') : `one of ${choices.join(', ')}`}`);
    }
    return value as T;
  };
}

/** A repeatable comma-separated list of words (`--dns a,b --dns c`): every flag adds to it. */
export function collectWords(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

/**
 * Checks a value with `parse` and passes its text on unchanged, for a command whose
 * implementation still takes its flags as text (and parses them again).
 */
export function checkedText(parse: FlagParser<unknown>): FlagParser<string> {
  return (value) => {
    parse(value);
    return value;
  };
}
