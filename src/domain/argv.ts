/**
 * Splitting a command line into argv the way a POSIX shell tokenizes words, without running a
 * shell: DECNET's `exec=` values are written for a shell, but the service container runs the argv
 * directly, so nothing is expanded and an operator character cannot start a second command.
 */
import { FleetInputError } from './errors';

/** Characters that only mean something to a shell; unquoted, the operator surely meant a shell. */
const SHELL_OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')', '`']);

/**
 * Whitespace separates words; '…' keeps everything literally; "…" keeps everything but lets a
 * backslash escape " \ $ and `; an unquoted backslash escapes the next character. `$VAR`, globs and
 * `~` stay literal text. Unquoted shell operators are refused rather than passed on as arguments.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  const append = (chars: string) => (word = (word ?? '') + chars);

  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw unterminated("'", i);
      append(text.slice(i + 1, end));
      i = end;
    } else if (c === '"') {
      i = readDoubleQuoted(text, i, append);
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new FleetInputError('ends with a lone backslash');
      append(text[++i]);
    } else if (SHELL_OPERATORS.has(c)) {
      throw new FleetInputError(`runs without a shell: quote "${c}" to pass it as an argument, or run the command through sh -c '…'`);
    } else {
      append(c);
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** Reads "…" from its opening quote at `start`; returns the index of the closing quote. */
function readDoubleQuoted(text: string, start: number, append: (chars: string) => void): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      append('');
      return i;
    }
    if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) {
      append(text[++i]);
    } else {
      append(c);
    }
  }
  throw unterminated('"', start);
}

function unterminated(quote: string, at: number): FleetInputError {
  return new FleetInputError(`has an unterminated ${quote} quote (opened at character ${at + 1})`);
}
