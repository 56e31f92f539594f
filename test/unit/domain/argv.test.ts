import { splitCommandLine } from '../../../src/domain/argv';
import { FleetInputError } from '../../../src/domain/errors';

describe('splitCommandLine', () => {
  it.each([
    ['/usr/bin/app', ['/usr/bin/app']],
    ['  app \t -p\t2222  ', ['app', '-p', '2222']],
    [`sh -c 'echo "hi" && exec sleep 1'`, ['sh', '-c', 'echo "hi" && exec sleep 1']],
    ['app --banner "SSH-2.0 (Debian)"', ['app', '--banner', 'SSH-2.0 (Debian)']],
    ['app --name=x"y z"w', ['app', '--name=xy zw']],
    [String.raw`app "a \"quoted\" \\ \$word \n"`, ['app', String.raw`a "quoted" \ $word \n`]],
    [String.raw`app one\ word \'`, ['app', 'one word', "'"]],
    [`app '' ""`, ['app', '', '']],
    ['app $HOME ~ *.log', ['app', '$HOME', '~', '*.log']],
    ['', []],
  ])('%s', (text, argv) => {
    expect(splitCommandLine(text)).toEqual(argv);
  });

  it.each([
    ['app "open', 'has an unterminated " quote (opened at character 5)'],
    ["app 'open", "has an unterminated ' quote (opened at character 5)"],
    ['app \\', 'ends with a lone backslash'],
    ['app | tee log', 'runs without a shell: quote "|"'],
    ['app; rm -rf /', 'runs without a shell: quote ";"'],
    ['app && other', 'runs without a shell: quote "&"'],
    ['app `id`', 'runs without a shell: quote "`"'],
  ])('refuses %s', (text, message) => {
    expect(() => splitCommandLine(text)).toThrow(FleetInputError);
    expect(() => splitCommandLine(text)).toThrow(message);
  });
});
