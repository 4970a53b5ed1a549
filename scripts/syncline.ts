/**
 * `npm run syncline -- <command>`: Syncline's command line.
 *
 *   migrate-rules <file> [--output <file>]
 *     Converts a `bucket_definitions` sync-rules file into a Sync Streams (edition 3) draft.
 *     The YAML goes to stdout (or the output file), issues to stderr. Exit codes: 0 done
 *     (warnings only), 1 fatal issues (the draft lists what was not migrated) or unreadable
 *     input, 2 bad arguments.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { MigrationIssue } from '@syncline/engine';

const USAGE = `Usage: npm run syncline -- <command>

Commands:
  migrate-rules <file> [--output <file>]   Convert bucket_definitions sync rules into a Sync Streams
                                           (edition 3) draft; YAML to stdout or --output, issues to stderr.
`;

class UsageError extends Error {}

interface MigrateArgs {
  input: string;
  output: string | null;
}

function parseMigrateArgs(args: string[]): MigrateArgs {
  let input: string | null = null;
  let output: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--output' || arg === '-o') {
      const value = args[++i];
      if (value === undefined || value === '') throw new UsageError(`${arg} needs a file name`);
      output = value;
    } else if (arg.startsWith('--output=')) {
      output = arg.slice('--output='.length);
      if (output === '') throw new UsageError('--output needs a file name');
    } else if (arg.startsWith('-')) {
      throw new UsageError(`Unknown option ${arg}`);
    } else if (input === null) {
      input = arg;
    } else {
      throw new UsageError(`Unexpected argument ${arg}`);
    }
  }
  if (input === null) throw new UsageError('migrate-rules needs the sync-rules file to convert');
  return { input, output };
}

function formatIssue(issue: MigrationIssue, file: string): string {
  const at = issue.location ? `${file}:${issue.location.line}:${issue.location.column}: ` : '';
  return `${at}${issue.level} [${issue.code}] ${issue.message}`;
}

async function migrateRules(args: string[]): Promise<number> {
  const { input, output } = parseMigrateArgs(args);
  let text: string;
  try {
    text = await readFile(input, 'utf8');
  } catch (e) {
    process.stderr.write(`Cannot read ${input}: ${(e as NodeJS.ErrnoException).code ?? String(e)}\n`);
    return 1;
  }
  // Loaded here so that usage errors answer at once (the engine pulls in its storage stack).
  const { migrateSyncRulesToStreams } = await import('@syncline/engine');
  const result = migrateSyncRulesToStreams(text);
  for (const issue of result.issues) process.stderr.write(`${formatIssue(issue, input)}\n`);
  if (result.yaml !== '') {
    if (output) {
      await writeFile(output, result.yaml);
      process.stderr.write(`Wrote ${result.streams.length} stream(s) to ${output}\n`);
    } else {
      process.stdout.write(result.yaml);
    }
  }
  return result.issues.some((i) => i.level === 'fatal') ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    if (command === 'migrate-rules') return await migrateRules(rest);
    throw new UsageError(command === undefined ? 'No command given' : `Unknown command '${command}'`);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n\n${USAGE}`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
