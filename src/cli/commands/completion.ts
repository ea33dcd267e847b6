import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../core/index.js';
import { loadModels } from '../../models/index.js';
import type { CommandContext } from '../command-context.js';

/** The shells `lakeloop completion` writes a script for. */
export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;

/**
 * `lakeloop completion bash|zsh`: prints a completion script for the shell, generated from
 * the program (every verb and sub-verb, its options, the global options), so it never lists
 * a verb or option that does not exist. Where a verb takes model selectors (its arguments,
 * `--models`, `--exclude`) or table names (`inspect`, `compact`, `vacuum`, `status
 * --partitions`), the script asks `lakeloop __complete models|tables` for the names. Install: `lakeloop completion bash > ~/.local/share/bash-completion/completions/lakeloop`,
 * or for zsh into a folder of `$fpath` as `_lakeloop`.
 */
export async function completionCommand(shell: string, program: Command, context: CommandContext): Promise<void> {
  if (!(COMPLETION_SHELLS as readonly string[]).includes(shell)) throw new UsageError(`No completion for shell ${JSON.stringify(shell)}`, `Shells: ${COMPLETION_SHELLS.join(', ')}.`);
  context.io.stdout.write(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
}

/** What `lakeloop __complete` lists. */
export const COMPLETION_KINDS = ['models', 'tables'] as const;

/** The lake layers whose tables `__complete tables` looks for in a local lake. */
const TABLE_LAYERS = ['bronze', 'silver', 'gold', 'quarantine'];

/**
 * `lakeloop __complete models|tables` (hidden; the completion scripts call it): the project's
 * model names and each layer's `layer.*` (models), or those and the tables of a local lake
 * (tables), one a line. Reads file names and model headers only — no engine, no S3, and the
 * config only to find the lake root when `--lake` is not given — so it is quick, and prints
 * nothing rather than an error (a completion must never print one).
 */
export async function completeCommand(kind: string, context: CommandContext): Promise<void> {
  const names = new Set<string>();
  try {
    // The project is the config file's folder (as loadConfig has it), so models need no config
    // loaded: loading a TypeScript config costs more than a completion should.
    const { config: configFile, lake: lakeOption } = context.globals;
    const projectDir = configFile === undefined ? process.cwd() : dirname(resolve(configFile));
    const models = await loadModels(projectDir).catch(() => []);
    for (const model of models) names.add(model.name);
    if (kind === 'models') for (const model of models) names.add(`${model.name.slice(0, model.name.indexOf('.'))}.*`);
    if (kind === 'tables') {
      const root = lakeOption ?? (await context.config()).lake.root;
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(root)) {
        for (const layer of TABLE_LAYERS) {
          for (const entry of await readdir(join(resolve(root), layer), { withFileTypes: true }).catch(() => [])) {
            if (entry.isDirectory() && (await readdir(join(resolve(root), layer, entry.name)).catch(() => [] as string[])).includes('_delta_log')) names.add(`${layer}.${entry.name}`);
          }
        }
      }
    }
  } catch {
    // No project here, or one that does not load: nothing to complete.
  }
  if (names.size) context.io.stdout.write(`${[...names].sort().join('\n')}\n`);
}

/** Which names complete a verb's bare words and which options' values. */
interface ValueCompletion {
  /** Verb paths whose bare words are model selectors (the verbs with `--exclude`). */
  readonly modelVerbs: string[];
  /** Verb paths whose arguments are table names. */
  readonly tableVerbs: string[];
  /** Options whose value is model selectors (`--models`, `--exclude`), and table names (`--partitions`). */
  readonly modelOptions: string[];
  readonly tableOptions: string[];
}

function valueCompletion(program: Command): ValueCompletion {
  const out: ValueCompletion = { modelVerbs: [], tableVerbs: [], modelOptions: [], tableOptions: [] };
  const visit = (command: Command, path: string): void => {
    for (const option of command.options) {
      if (/<(m|models?|selectors?)\.\.\.>/.test(option.flags) && option.long && !out.modelOptions.includes(option.long)) out.modelOptions.push(option.long);
      if (/[[<]tables?(\.\.\.)?[\]>]/.test(option.flags) && option.long && !out.tableOptions.includes(option.long)) out.tableOptions.push(option.long);
    }
    if (path !== '') {
      if (command.options.some((o) => o.long === '--exclude') || command.registeredArguments.some((a) => a.name() === 'models')) out.modelVerbs.push(path);
      else if (command.registeredArguments.some((a) => /^tables?$/.test(a.name()))) out.tableVerbs.push(path);
    }
    for (const sub of visibleCommands(command)) visit(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  visit(program, '');
  return out;
}

/** Sub-commands a user types: `__complete` and other `__` verbs are the scripts' own. */
function visibleCommands(command: Command): Command[] {
  return command.commands.filter((c) => !c.name().startsWith('__'));
}

interface Word {
  readonly name: string;
  readonly description: string;
}

/** What completes after `lakeloop [global options]`: verbs, and per verb path (`contracts export`) its sub-verbs and options. */
function words(program: Command): { globals: Word[]; verbs: Map<string, Word[]>; valued: string[] } {
  const optionsOf = (command: Command): Word[] =>
    command.options.filter((o) => !o.hidden).flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined).map((name) => ({ name, description: o.description })));
  const valued = new Set<string>();
  const verbs = new Map<string, Word[]>();
  const visit = (command: Command, path: string): void => {
    // Only a required value is surely the next word (`--sample-feed [N]` may be followed by another option).
    for (const o of command.options) if (o.required) for (const f of [o.long, o.short]) if (f) valued.add(f);
    const subverbs = visibleCommands(command).map((c) => ({ name: c.name(), description: c.description() }));
    verbs.set(path, [...subverbs, ...(path === '' ? [] : optionsOf(command))]);
    for (const sub of visibleCommands(command)) visit(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  visit(program, '');
  const help = { name: '--help', description: 'show help' };
  // --version only makes sense before a verb; --help after any.
  const globals = [...optionsOf(program).filter((w) => w.name !== '--version' && w.name !== '-V'), help];
  verbs.set('', [...(verbs.get('') ?? []), { name: '--version', description: 'print the version' }]);
  return { globals, verbs, valued: [...valued].sort() };
}

function bashCompletion(program: Command): string {
  const { globals, verbs, valued } = words(program);
  const values = valueCompletion(program);
  const names = (list: readonly Word[]): string => list.map((w) => w.name).join(' ');
  const cases = [...verbs].map(([path, list]) => `    '${path}') candidates='${names(list)} ${names(globals)}' ;;`).join('\n');
  const quoted = (paths: readonly string[]): string => paths.map((p) => `'${p}'`).join('|') || "''";
  return `# bash completion for lakeloop (generated by \`lakeloop completion bash\`)
_lakeloop() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path='' skip='' word candidates i values=''
  local -a project=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if [[ -n "$skip" ]]; then skip=''; continue; fi
    case "$word" in
      --config|--lake) project+=("$word" "\${COMP_WORDS[i+1]}") ;;
    esac
    case "$word" in
      ${valued.join('|')}) skip=1 ;;
      -*) ;;
      *) case " $(_lakeloop_subverbs "$path") " in *" $word "*) path="\${path:+$path }$word" ;; esac ;;
    esac
  done
  # model and table names: after the options that take them, and as the bare words of the verbs that do
  case "$prev" in
    ${values.modelOptions.join('|') || "''"}) values=models ;;
    ${values.tableOptions.join('|') || "''"}) values=tables ;;
  esac
  if [[ -z "$values" && -z "$skip" && "$cur" != -* ]]; then
    case "$path" in
      ${quoted(values.modelVerbs)}) values=models ;;
      ${quoted(values.tableVerbs)}) values=tables ;;
    esac
  fi
  if [[ -n "$values" && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "$("\${COMP_WORDS[0]}" "\${project[@]}" __complete "$values" 2>/dev/null)" -- "$cur"))
    return
  fi
  # after an option that takes a value: file names (the default)
  if [[ -n "$skip" ]]; then return; fi
  case "$path" in
${cases}
    *) candidates='' ;;
  esac
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
_lakeloop_subverbs() {
  case "$1" in
${[...verbs].map(([path, list]) => `    '${path}') echo '${list.filter((w) => !w.name.startsWith('-')).map((w) => w.name).join(' ')}' ;;`).join('\n')}
  esac
}
complete -o default -F _lakeloop lakeloop
`;
}

function zshCompletion(program: Command): string {
  const { globals, verbs, valued } = words(program);
  const values = valueCompletion(program);
  const quoted = (paths: readonly string[]): string => paths.map((p) => `'${p}'`).join('|') || "''";
  const quote = (w: Word): string => `'${`${w.name.replaceAll(':', '\\:')}:${w.description.replace(/\s+/g, ' ')}`.replaceAll("'", "'\\''")}'`;
  const cases = [...verbs].map(([path, list]) => `    '${path}') candidates=(${[...list, ...globals].map(quote).join(' ')}) ;;`).join('\n');
  return `#compdef lakeloop
# zsh completion for lakeloop (generated by \`lakeloop completion zsh\`)
_lakeloop() {
  local verbpath='' skip='' word i values='' prev=\${words[CURRENT-1]} cur=\${words[CURRENT]}
  # not \`path\`: zsh ties it to PATH, and the names come from running lakeloop
  local -a candidates subverbs project names
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    if [[ -n $skip ]]; then skip=''; continue; fi
    case $word in
      --config|--lake) project+=($word \${words[i+1]}) ;;
    esac
    case $word in
      ${valued.join('|')}) skip=1 ;;
      -*) ;;
      *) subverbs=(\${(s: :)$(_lakeloop_subverbs "$verbpath")})
         (( \${subverbs[(Ie)$word]} )) && verbpath=\${verbpath:+$verbpath }$word ;;
    esac
  done
  # model and table names: after the options that take them, and as the bare words of the verbs that do
  case $prev in
    ${values.modelOptions.join('|') || "''"}) values=models ;;
    ${values.tableOptions.join('|') || "''"}) values=tables ;;
  esac
  if [[ -z $values && -z $skip && $cur != -* ]]; then
    case $verbpath in
      ${quoted(values.modelVerbs)}) values=models ;;
      ${quoted(values.tableVerbs)}) values=tables ;;
    esac
  fi
  if [[ -n $values && $cur != -* ]]; then
    names=(\${(f)"$(\${words[1]} $project __complete $values 2>/dev/null)"})
    compadd -a names
    return
  fi
  if [[ -n $skip ]]; then _files; return; fi
  case $verbpath in
${cases}
    *) _files; return ;;
  esac
  _describe -t lakeloop 'lakeloop' candidates || _files
}
_lakeloop_subverbs() {
  case $1 in
${[...verbs].map(([path, list]) => `    '${path}') echo '${list.filter((w) => !w.name.startsWith('-')).map((w) => w.name).join(' ')}' ;;`).join('\n')}
  esac
}
compdef _lakeloop lakeloop 2>/dev/null || true
`;
}
