/**
 * The shared pieces behind every config and flag check: schema issues become ConfigErrors naming
 * the file, the key path, what was expected and what was found (bridge/config/schema.ts), and the
 * flag parsers reject through commander (bridge/cli-flags.ts).
 */
import { Command, CommanderError, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { checkedText, choice, commaList, groupId, integerIn, positive, probability, secondsIn } from '../../bridge/cli-flags.js';
import { ConfigError } from '../../bridge/config/reader.js';
import { int, mapping, oneOf, parseConfig, str, withChecks } from '../../bridge/config/schema.js';

const item = mapping({ name: str(), weight: int(1, 9).default(5) });
const schema = mapping({
  items: item.array(),
  mode: oneOf(['fast', 'safe']).default('safe'),
}).transform(
  withChecks((c, fail) => {
    if (c.mode === 'fast' && c.items.length > 1) fail('expected at most one item in fast mode', { at: ['items'], found: c.items.length });
    const total = c.items.reduce((n, i) => n + i.weight, 0);
    if (total > 10) fail('expected weights adding up to at most 10', { found: undefined });
    return { ...c, total };
  }),
);

function configError(doc: unknown): ConfigError {
  try {
    parseConfig(schema, doc, 'x.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('the document was accepted');
}

describe('config schema issues as ConfigErrors', () => {
  it('names the key path into lists and what was found', () => {
    const e = configError({ items: [{ name: 'a' }, { name: 'b', weight: 10 }] });
    expect(e).toMatchObject({ file: 'x.yaml', key: 'items[1].weight', expected: 'expected an integer from 1 to 9' });
    expect(e.message).toBe('x.yaml: items[1].weight: expected an integer from 1 to 9, got 10');
  });

  it('says when a required key is absent, and treats `key:` (null) as absent', () => {
    expect(configError({ items: [{ weight: 2 }] }).message).toBe('x.yaml: items[0].name: expected a string (this key is required)');
    expect(configError({ items: [{ name: null }] }).message).toBe('x.yaml: items[0].name: expected a string (this key is required)');
    expect(parseConfig(schema, { items: [{ name: 'a', weight: null }], mode: null }, 'x.yaml')).toEqual({ items: [{ name: 'a', weight: 5 }], mode: 'safe', total: 5 });
  });

  it('refuses unknown keys at their own path', () => {
    expect(configError({ items: [{ name: 'a', wieght: 2 }] }).message).toBe('x.yaml: items[0].wieght: unknown key (check its spelling)');
    expect(configError({ items: [{ name: 'a' }], extra: true }).message).toBe('x.yaml: extra: unknown key (check its spelling)');
  });

  it('a cross-field check names its key and its own found value, and the first failing check wins', () => {
    const heavy = [{ name: 'a', weight: 9 }, { name: 'b', weight: 9 }];
    expect(configError({ items: heavy, mode: 'fast' }).message).toBe('x.yaml: items: expected at most one item in fast mode, got 2');
    expect(configError({ items: heavy }).message).toBe('x.yaml: expected weights adding up to at most 10');
    expect(configError([1]).message).toBe('x.yaml: expected a mapping (key: value lines), got [1]');
  });
});

/** Parses `args` with one option; returns its value or commander's error. */
function flag<T>(option: Option, args: string[]): { value?: T; error?: CommanderError } {
  let stderr = '';
  const cmd = new Command()
    .exitOverride()
    .configureOutput({ writeErr: (s) => void (stderr += s) })
    .addOption(option);
  try {
    cmd.parse(args, { from: 'user' });
  } catch (e) {
    expect(e).toBeInstanceOf(CommanderError);
    expect(stderr).toBe(`${(e as CommanderError).message}\n`);
    return { error: e as CommanderError };
  }
  return { value: cmd.opts()[option.attributeName()] as T };
}

describe('flag parsers through commander', () => {
  it('number ranges: typed values, or an invalid-argument error naming the flag and the range', () => {
    expect(flag(new Option('--ues <n>').argParser(integerIn(2, 16)), ['--ues', '16']).value).toBe(16);
    const e = flag(new Option('--ues <n>').argParser(integerIn(2, 16)), ['--ues', '2.5']).error!;
    expect(e.code).toBe('commander.invalidArgument');
    expect(e.message).toBe("error: option '--ues <n>' argument '2.5' is invalid. expected an integer from 2 to 16");
    expect(flag(new Option('--s <s>').argParser(secondsIn(0, 60)), ['--s', '']).error?.message).toMatch(/expected seconds from 0 to 60$/);
    expect(flag(new Option('--d <n>').argParser(positive()), ['--d', '0']).error?.message).toMatch(/expected a positive number$/);
  });

  it('probabilities take a fraction or a percentage', () => {
    expect(flag(new Option('--loss <p>').argParser(probability), ['--loss', '12.5%']).value).toBe(0.125);
    expect(flag(new Option('--loss <p>').argParser(probability), ['--loss', '1.5']).error?.message).toMatch(/expected a probability such as 0\.1 or 10%$/);
  });

  it('lists: each item checked and named, duplicates dropped', () => {
    const paths = (): Option => new Option('--paths <list>').argParser(commaList(choice(['tun', 'pdcp'])));
    expect(flag(paths(), ['--paths', 'pdcp, tun,pdcp']).value).toEqual(['pdcp', 'tun']);
    expect(flag(paths(), ['--paths', 'tun,x']).error?.message).toMatch(/argument 'tun,x' is invalid\. "x": expected tun or pdcp$/);
    expect(flag(paths(), ['--paths', 'tun,']).error?.message).toMatch(/expected a comma-separated list$/);
  });

  it('positive numbers with a ceiling; word lists longer than two say "one of"', () => {
    const rate = (): Option => new Option('--rate <r>').argParser(positive({ max: 100 }));
    expect(flag(rate(), ['--rate', '100']).value).toBe(100);
    expect(flag(rate(), ['--rate', '100.5']).error?.message).toMatch(/argument '100\.5' is invalid\. expected a positive number up to 100$/);
    expect(flag(new Option('--n <n>').argParser(positive({ integer: true })), ['--n', '1.5']).error?.message).toMatch(/expected a positive integer$/);
    expect(flag(new Option('--algs <list>').argParser(commaList(choice(['a', 'b', 'c']))), ['--algs', 'a,d']).error?.message).toMatch(/"d": expected one of a, b, c$/);
  });

  it('Group IDs: 24 bits, decimal or 0x-hex', () => {
    const group = (): Option => new Option('--group <id>').argParser(groupId);
    expect(flag(group(), ['--group', '0x0d0001']).value).toBe(0x0d0001);
    expect(flag(group(), ['--group', '16777215']).value).toBe(0xffffff);
    for (const bad of ['0x1000000', '16777216', '0d0001', '-1', '1.5', '']) {
      expect(flag(group(), ['--group', bad]).error?.message, bad).toBe(`error: option '--group <id>' argument '${bad}' is invalid. expected a 24-bit Group ID (decimal or 0x-hex)`);
    }
  });

  it('checked text is checked, then passed on as given', () => {
    expect(flag(new Option('--n <n>').argParser(checkedText(integerIn(1, 9))), ['--n', '07']).value).toBe('07');
    expect(flag(new Option('--n <n>').argParser(checkedText(integerIn(1, 9))), ['--n', '10']).error?.code).toBe('commander.invalidArgument');
  });
});
