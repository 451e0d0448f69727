// A small command/subcommand framework with Docker's (cobra/pflag) command
// line conventions:
//   --flag value, --flag=value, -f value, -fvalue, -f=value
//   combined boolean shorthands: -it, -itd (a value flag may end the group: -itp 80)
//   bool flags take no separate value: --rm, --rm=false
//   repeatable list flags: -e A=1 -e B=2
//   "--" ends flag parsing; commands with interspersed=false (run, create,
//   exec) stop at the first positional (the image), so `berth run alpine ls -l`
//   passes "-l" to ls
//   --help/-h on every command
// Errors are InvalidArgumentError with field = the flag's long name and
// messages naming the flag and the accepted form.
import { InvalidArgumentError } from '@berth/errors';

export type FlagKind = 'bool' | 'string' | 'int' | 'list';

export interface FlagDef {
  /** Long name without "--". */
  name: string;
  /** One-character shorthand without "-". */
  short?: string;
  kind: FlagKind;
  description: string;
  /** Type word shown in help ("string", "list", "bytes", "decimal", "int"); default from kind. */
  valueName?: string;
  /** Default value shown in help and used when the flag is absent. */
  default?: string | number | boolean;
  hidden?: boolean;
}

export interface ArgsSpec {
  min?: number;
  max?: number;
}

export interface CommandDef {
  name: string;
  aliases?: string[];
  /** After the command path in "Usage:", e.g. "[OPTIONS] CONTAINER [CONTAINER...]". */
  usage: string;
  /** One line, shown in the parent's command list and under Usage. */
  description: string;
  flags?: FlagDef[];
  /** Flags also accepted by every subcommand (global flags on the root). */
  persistentFlags?: FlagDef[];
  args?: ArgsSpec;
  /** false: flags stop at the first positional argument. Default true. */
  interspersed?: boolean;
  subcommands?: CommandDef[];
  /** Example lines for help. */
  examples?: string[];
}

export interface ParsedCommand {
  /** The command that runs (a leaf, or a group when help was asked). */
  command: CommandDef;
  /** Names from the root: ["berth", "image", "ls"]. */
  path: string[];
  /** Flag values by long name; absent flags have their default (or false / "" / [] / undefined for int). */
  flags: Record<string, unknown>;
  /** Long names of flags given on the command line. */
  changed: Set<string>;
  args: string[];
  /** --help was given (or a group was called without a subcommand). */
  help: boolean;
}

const HELP_FLAG: FlagDef = { name: 'help', kind: 'bool', description: 'Print usage' };

/** "-m, --memory" or "--memory": how Docker names a flag in errors. */
export function flagLabel(f: Pick<FlagDef, 'name' | 'short'>): string {
  return f.short ? `-${f.short}, --${f.name}` : `--${f.name}`;
}

/** `invalid argument "12x" for "-m, --memory": <expected>` */
export function invalidFlagValue(f: Pick<FlagDef, 'name' | 'short'>, value: string, expected: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid argument "${value}" for "${flagLabel(f)}": ${expected}`, { field: f.name });
}

function defaultOf(f: FlagDef): unknown {
  if (f.default !== undefined) return f.default;
  switch (f.kind) {
    case 'bool': return false;
    case 'string': return '';
    case 'list': return [];
    case 'int': return undefined;
  }
}

function parseBool(f: FlagDef, v: string): boolean {
  if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(v)) return true;
  if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(v)) return false;
  throw invalidFlagValue(f, v, 'expected true or false');
}

function setValue(f: FlagDef, values: Record<string, unknown>, changed: Set<string>, raw: string): void {
  switch (f.kind) {
    case 'bool': values[f.name] = parseBool(f, raw); break;
    case 'string': values[f.name] = raw; break;
    case 'int':
      if (!/^-?\d+$/.test(raw)) throw invalidFlagValue(f, raw, 'expected an integer');
      values[f.name] = Number(raw);
      break;
    case 'list': {
      const cur = changed.has(f.name) ? (values[f.name] as string[]) : [];
      values[f.name] = [...cur, raw];
      break;
    }
  }
  changed.add(f.name);
}

const argWord = (n: number): string => `${n} argument${n === 1 ? '' : 's'}`;

function checkArgs(cmd: CommandDef, path: string[], args: string[]): void {
  const { min = 0, max = Infinity } = cmd.args ?? {};
  const name = `"${path.join(' ')}"`;
  const see = `\nSee '${path.join(' ')} --help'.\n\nUsage:  ${path.join(' ')} ${cmd.usage}\n\n${cmd.description}`;
  let msg: string | undefined;
  if (min === max && args.length !== min) msg = min === 0 ? `${name} accepts no arguments.` : `${name} requires exactly ${argWord(min)}.`;
  else if (args.length < min) msg = `${name} requires at least ${argWord(min)}.`;
  else if (args.length > max) msg = max === 0 ? `${name} accepts no arguments.` : `${name} requires at most ${argWord(max)}.`;
  if (msg) throw new InvalidArgumentError(msg + see, { field: 'args' });
}

/**
 * Parses argv (without the program name) against the tree rooted at `root`.
 * Throws InvalidArgumentError for unknown flags/commands, missing values and
 * wrong argument counts; flag values are only checked for their kind here
 * (command-specific validation, such as run's, happens after).
 */
export function parseCommandLine(root: CommandDef, argv: readonly string[]): ParsedCommand {
  let cmd = root;
  const path = [root.name];
  const inherited: FlagDef[] = [...(root.persistentFlags ?? [])];
  const values: Record<string, unknown> = {};
  const changed = new Set<string>();
  const args: string[] = [];
  let help = false;
  const all = (): FlagDef[] => [...(cmd.flags ?? []), ...inherited, HELP_FLAG];
  const initDefaults = (): void => {
    for (const f of all()) if (!changed.has(f.name)) values[f.name] = defaultOf(f);
  };
  initDefaults();

  let i = 0;
  let flagsDone = false;
  while (i < argv.length) {
    const a = argv[i]!;
    if (!flagsDone && a === '--') { flagsDone = true; i++; continue; }
    if (!flagsDone && a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const f = all().find((x) => x.name === name);
      if (!f) throw new InvalidArgumentError(`unknown flag: --${name}\nSee '${path.join(' ')} --help'.`, { field: name });
      if (f.kind === 'bool') setValue(f, values, changed, eq < 0 ? 'true' : a.slice(eq + 1));
      else if (eq >= 0) setValue(f, values, changed, a.slice(eq + 1));
      else {
        if (i + 1 >= argv.length) throw new InvalidArgumentError(`flag needs an argument: --${name}`, { field: name });
        setValue(f, values, changed, argv[++i]!);
      }
      if (f === HELP_FLAG && values.help) help = true;
      i++;
      continue;
    }
    if (!flagsDone && a.startsWith('-') && a.length > 1 && a !== '-') {
      const group = a.slice(1);
      for (let j = 0; j < group.length; j++) {
        const c = group[j]!;
        const f = c === 'h' && !all().some((x) => x.short === 'h') ? { ...HELP_FLAG, short: 'h' } : all().find((x) => x.short === c);
        if (!f) throw new InvalidArgumentError(`unknown shorthand flag: '${c}' in ${a}\nSee '${path.join(' ')} --help'.`, { field: c });
        const rest = group.slice(j + 1);
        if (f.kind === 'bool') {
          if (rest.startsWith('=')) { setValue(f, values, changed, rest.slice(1)); j = group.length; }
          else setValue(f, values, changed, 'true');
          if (f.name === 'help' && values.help) help = true;
          continue;
        }
        if (rest !== '') setValue(f, values, changed, rest.startsWith('=') ? rest.slice(1) : rest);
        else {
          if (i + 1 >= argv.length) throw new InvalidArgumentError(`flag needs an argument: '${c}' in ${a}`, { field: f.name });
          setValue(f, values, changed, argv[++i]!);
        }
        break;
      }
      i++;
      continue;
    }
    // A positional argument: a subcommand, or the first of the command's args.
    if (args.length === 0 && cmd.subcommands?.length && !flagsDone) {
      const sub = cmd.subcommands.find((s) => s.name === a || s.aliases?.includes(a));
      if (sub) {
        inherited.push(...(cmd.persistentFlags && cmd !== root ? cmd.persistentFlags : []));
        cmd = sub;
        path.push(sub.name);
        initDefaults();
        i++;
        continue;
      }
      throw new InvalidArgumentError(`unknown command "${a}" for "${path.join(' ')}"\nRun '${path.join(' ')} --help' for a list of commands.`, { field: 'command' });
    }
    args.push(a);
    if (cmd.interspersed === false) flagsDone = true;
    i++;
  }
  if (cmd.subcommands?.length && args.length === 0 && !help) help = true; // a group alone prints its help, as docker does
  if (!help) checkArgs(cmd, path, args);
  return { command: cmd, path, flags: values, changed, args, help };
}

/** Docker-style help text for a command. */
export function renderHelp(cmd: CommandDef, path: string[]): string {
  const out: string[] = [];
  out.push(`\nUsage:  ${path.join(' ')} ${cmd.usage}`.trimEnd(), '', cmd.description, '');
  if (cmd.aliases?.length) {
    const parent = path.slice(0, -1).join(' ');
    out.push('Aliases:', `  ${[cmd.name, ...cmd.aliases].map((a) => `${parent} ${a}`).join(', ')}`, '');
  }
  if (cmd.subcommands?.length) {
    out.push('Commands:');
    const w = Math.max(...cmd.subcommands.map((s) => s.name.length));
    for (const s of cmd.subcommands) out.push(`  ${s.name.padEnd(w)}  ${s.description}`);
    out.push('');
  }
  const flags = [...(cmd.flags ?? []), ...(cmd.persistentFlags ?? [])].filter((f) => !f.hidden);
  if (flags.length) {
    out.push(cmd.subcommands?.length && path.length === 1 ? 'Global Options:' : 'Options:');
    const left = flags.map((f) => {
      const head = f.short ? `-${f.short}, --${f.name}` : `    --${f.name}`;
      const type = f.kind === 'bool' ? '' : ` ${f.valueName ?? (f.kind === 'int' ? 'int' : f.kind === 'list' ? 'list' : 'string')}`;
      return `  ${head}${type}`;
    });
    const w = Math.max(...left.map((l) => l.length));
    flags.forEach((f, k) => {
      const dflt = f.default !== undefined && f.default !== '' && f.default !== false ? ` (default ${typeof f.default === 'string' ? `"${f.default}"` : f.default})` : '';
      out.push(`${left[k]!.padEnd(w)}   ${f.description}${dflt}`);
    });
    out.push('');
  }
  if (cmd.examples?.length) out.push('Examples:', ...cmd.examples.map((e) => `  ${e}`), '');
  if (cmd.subcommands?.length) out.push(`Run '${path.join(' ')} COMMAND --help' for more information on a command.`, '');
  return out.join('\n');
}
