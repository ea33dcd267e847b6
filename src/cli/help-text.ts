import type { Argument, Command, Option } from 'commander';

/**
 * Makes every verb's help say what its options are, from the options themselves: the
 * usage line (`lakeloop <verb> <synopsis>`) is generated from the arguments and options
 * the verb declares, so it cannot omit one, and defaults and choices print as typed
 * (`(default: 8080)`, not `(default: "8080")`). Call once, after every verb is declared.
 *
 * @example
 * generateHelp(program); // then `lakeloop serve --help` lists --full-every in its usage
 */
export function generateHelp(program: Command): void {
  for (const command of [program, ...allVerbs(program)]) {
    if (command !== program) command.usage(synopsisOf(command));
    command.configureHelp({ ...command.configureHelp(), optionDescription: plainOptionDescription, argumentDescription: plainArgumentDescription });
  }
}

/** Every verb and sub-verb of `program` (e.g. `contracts export`), depth first. */
export function allVerbs(program: Command): Command[] {
  return program.commands.flatMap((command) => [command, ...allVerbs(command)]);
}

/**
 * A verb's synopsis from what it declares: sub-verbs as `a|b`, then its arguments
 * (`<source>`, `[models...]`), then its options, each in brackets unless required
 * (`--from D`), with its value placeholder or its choices (`[--format text|json]`).
 */
export function synopsisOf(command: Command): string {
  const parts: string[] = [];
  const subverbs = command.commands.map((c) => c.name());
  if (subverbs.length) parts.push(subverbs.join('|'));
  for (const argument of command.registeredArguments) parts.push(argumentTerm(argument));
  for (const option of command.options) {
    if (option.hidden || option.long === '--help') continue;
    const term = optionTerm(option);
    parts.push(option.mandatory ? term : `[${term}]`);
  }
  return parts.join(' ');
}

function argumentTerm(argument: Argument): string {
  const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
  return argument.required ? `<${name}>` : `[${name}]`;
}

function optionTerm(option: Option): string {
  const flag = option.long ?? option.short ?? option.flags;
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  if (placeholder === undefined) return flag;
  const value = option.argChoices?.length ? option.argChoices.join('|') : placeholder;
  return option.optional ? `${flag} [${value}]` : `${flag} ${value}`;
}

/** commander's option description, with choices and defaults unquoted. */
function plainOptionDescription(option: Option): string {
  const extra: string[] = [];
  if (option.argChoices) extra.push(`choices: ${option.argChoices.join(', ')}`);
  // A boolean default (`--no-models`) says nothing a user needs.
  if (option.defaultValue !== undefined && typeof option.defaultValue !== 'boolean') {
    extra.push(`default: ${option.defaultValueDescription ?? plain(option.defaultValue)}`);
  }
  return [option.description, extra.length ? `(${extra.join(', ')})` : ''].filter(Boolean).join(' ');
}

function plainArgumentDescription(argument: Argument): string {
  const extra = argument.defaultValue === undefined ? '' : ` (default: ${argument.defaultValueDescription ?? plain(argument.defaultValue)})`;
  return `${argument.description}${extra}`;
}

function plain(value: unknown): string {
  return Array.isArray(value) ? value.map(plain).join(' ') : typeof value === 'string' ? value : JSON.stringify(value);
}

