/**
 * Command-line parsing: positional words and `--name value` / `--flag` options, with every
 * mistake turned into a UsageError that says what was wrong and how to fix it.
 */

/** A mistake on the command line: printed as one line, exit status 2. */
export class UsageError extends Error {}

/** How an option is read. */
export interface OptionSpec {
  readonly kind: 'flag' | 'int' | 'number' | 'string';
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
}

/** Parsed arguments. */
export interface Parsed {
  readonly words: string[];
  readonly options: Map<string, string | number | boolean>;
}

/** Parses `argv` against the options a command accepts. */
export function parseArgs(command: string, argv: readonly string[], specs: Readonly<Record<string, OptionSpec>>): Parsed {
  const words: string[] = [];
  const options = new Map<string, string | number | boolean>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--') || a === '--') {
      words.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const spec = specs[name];
    if (spec === undefined) {
      const known = Object.keys(specs).map((k) => `--${k}`).join(', ');
      throw new UsageError(`hmmsim ${command}: unknown option --${name} (options: ${known})`);
    }
    if (spec.kind === 'flag') {
      if (eq >= 0) throw new UsageError(`hmmsim ${command}: --${name} takes no value`);
      options.set(name, true);
      continue;
    }
    const raw = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (raw === undefined || raw === '') throw new UsageError(`hmmsim ${command}: --${name} needs a value`);
    options.set(name, readValue(command, name, spec, raw));
  }
  return { words, options };
}

function readValue(command: string, name: string, spec: OptionSpec, raw: string): string | number {
  if (spec.kind === 'string') {
    if (spec.choices !== undefined && !spec.choices.includes(raw)) {
      throw new UsageError(`hmmsim ${command}: --${name} must be one of ${spec.choices.join(', ')}, not '${raw}'`);
    }
    return raw;
  }
  const n = Number(raw);
  const what = spec.kind === 'int' ? 'a whole number' : 'a number';
  const range =
    spec.min !== undefined && spec.max !== undefined ? ` from ${spec.min} to ${spec.max}` : spec.min !== undefined ? ` of at least ${spec.min}` : '';
  if (!Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n)) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    throw new UsageError(`hmmsim ${command}: --${name} must be ${what}${range}, not '${raw}'`);
  }
  return n;
}
