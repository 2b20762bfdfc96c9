// cliui for the bundled yargs, wrapping help text at word boundaries. cliui's own ES module entry wraps by
// counting characters (its comment: "Minimal replacement for wrap-ansi"), which broke words in the middle
// ("write ea / ch set") at every terminal width and in a pipe. Same layout engine, another wrap.
import { cliui } from '../../node_modules/cliui/build/lib/index.js';
import { stripAnsi } from '../../node_modules/cliui/build/lib/string-utils.js';

/** Lines of at most `width` characters, broken between words; a word longer than a line is cut. */
export function wrapWords(text, width) {
  const lines = [];
  for (const paragraph of stripAnsi(text).split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line === '') line = word;
      else if (line.length + 1 + word.length <= width) line += ` ${word}`;
      else {
        lines.push(line);
        line = word;
      }
      while (line.length > width) {
        lines.push(line.slice(0, width));
        line = line.slice(width);
      }
    }
    lines.push(line);
  }
  return lines.join('\n');
}

export default function ui(opts) {
  return cliui(opts, { stringWidth: (s) => [...s].length, stripAnsi, wrap: wrapWords });
}
