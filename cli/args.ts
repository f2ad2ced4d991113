// Minimal argument parsing for the ztmysql commands: --flag, --key value, positionals.
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  readonly positional: string[];
  readonly options: Record<string, string | true>;
}

export function parseArgs(argv: readonly string[], known: { flags: readonly string[]; values: readonly string[] }): ParsedArgs {
  const positional: string[] = [];
  const options: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const name = a.slice(2);
    if (known.flags.includes(name)) options[name] = true;
    else if (known.values.includes(name)) {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a value`);
      options[name] = v;
    } else throw new UsageError(`unknown option --${name}`);
  }
  return { positional, options };
}

export function stringOption(args: ParsedArgs, name: string, fallback: string): string {
  const v = args.options[name];
  return typeof v === 'string' ? v : fallback;
}
