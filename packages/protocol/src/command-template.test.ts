import { describe, expect, it } from 'vitest';
import { commandArgv, type CommandTemplateError, describeCommand, parseCommandTemplate } from './command-template.ts';

const boot = { option: '--boot-command', placeholders: ['node'], required: ['node'] };

function refusal(text: string, options = boot): CommandTemplateError {
  try {
    parseCommandTemplate(text, options);
  } catch (err) {
    return err as CommandTemplateError;
  }
  throw new Error(`${text} was accepted`);
}

describe('command templates', () => {
  it('splits words as a shell would, without running one: quotes and backslashes', () => {
    const t = parseCommandTemplate(`ipmitool -H '{node}-bmc' -P "pa ss\\"word" chassis\\ power on`, boot);
    expect(t.argv).toEqual(['ipmitool', '-H', '{node}-bmc', '-P', 'pa ss"word', 'chassis power', 'on']);
    expect(commandArgv(t, { node: 'n3' })).toEqual([
      'ipmitool',
      '-H',
      'n3-bmc',
      '-P',
      'pa ss"word',
      'chassis power',
      'on',
    ]);
  });

  it('takes a JSON argv as it is', () => {
    const t = parseCommandTemplate('["sh", "-c", "start-agent $1", "boot", "{node}"]', boot);
    expect(commandArgv(t, { node: 'n1' })).toEqual(['sh', '-c', 'start-agent $1', 'boot', 'n1']);
  });

  it('keeps a substituted value inside one argument whatever it holds', () => {
    const t = parseCommandTemplate('wake {node}', boot);
    expect(commandArgv(t, { node: 'a b; rm -rf x' })).toEqual(['wake', 'a b; rm -rf x']);
  });

  it('refuses unquoted shell operators, naming the option and the way to use a shell', () => {
    const err = refusal('start {node} > /dev/null &');
    expect(err.code).toBe('ENTROPY_COMMAND_TEMPLATE');
    expect(err.option).toBe('--boot-command');
    expect(err.message).toMatch(/^--boot-command: unquoted '>' at character 14: .*sh -c/);
    expect(parseCommandTemplate(`sh -c 'start "$0" > /dev/null &' {node}`, boot).argv).toEqual([
      'sh',
      '-c',
      'start "$0" > /dev/null &',
      '{node}',
    ]);
  });

  it.each([
    ['', /is empty/],
    ['  ', /is empty/],
    ["wake '{node}", /unterminated single quote at character 6/],
    ['wake "{node}', /unterminated double quote/],
    ['wake {node} \\', /lone backslash/],
    ['wake {host}', /unknown placeholder \{host\} \(known: \{node\}\)/],
    ['wake-all', /must use \{node\}/],
    ['[1, 2]', /array of strings/],
    ['[oops', /not a JSON array/],
    ['[]', /is empty/],
  ])('refuses %j', (text, reason) => {
    expect(refusal(text).message).toMatch(reason);
  });

  it('needs no placeholder when none is required', () => {
    expect(
      parseCommandTemplate('systemctl poweroff --no-block', { option: '--shutdown-command', placeholders: ['node'] })
        .argv,
    ).toEqual(['systemctl', 'poweroff', '--no-block']);
  });

  it('describes an argv on one line for logs', () => {
    expect(describeCommand(['sh', '-c', 'a b', 'n1'])).toBe('sh -c "a b" n1');
  });
});
