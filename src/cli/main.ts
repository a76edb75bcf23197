#!/usr/bin/env node
/**
 * `fhir-smart`: the command-line client of this server (docs/cli.md). Log in (browser + PKCE, or a client's
 * credentials), call the FHIR API, manage projects, clients, users, policies and signing keys, import and export
 * NDJSON. Exit codes: 0 success, 1 the server refused, 2 usage, 3 network.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { clientRegister, policyEvaluate, projectCreate, projectList, projectUse, userCreate } from './fhir-smart/admin';
import { api, checkVersion } from './fhir-smart/api';
import { Connection, type GlobalOptions, resolveTarget } from './fhir-smart/connection';
import { readEnvironment } from './fhir-smart/environment';
import { CliError, EXIT_HTTP, EXIT_OK, EXIT_USAGE } from './fhir-smart/errors';
import { keysList, keysRotate } from './fhir-smart/keys';
import { login, logout, whoami } from './fhir-smart/login';
import { ProfileStore } from './fhir-smart/profiles';
import { exportResources, importResources } from './fhir-smart/transfer';

const env = readEnvironment();
const store = new ProfileStore(env.configDir);

function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The global options of the command being run. */
function globalsOf(command: Command): GlobalOptions {
  const all = command.optsWithGlobals<GlobalOptions>();
  return { profile: all.profile, server: all.server, tenant: all.tenant, project: all.project, token: all.token };
}

/** A connection for the command being run. */
function connect(command: Command): Connection {
  const globals = globalsOf(command);
  return new Connection(resolveTarget(globals, env, store), store, globals.token ?? env.token);
}

/** The last argument commander passes to an action is the command. */
function commandOf(args: unknown[]): Command {
  return args[args.length - 1] as Command;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const program = new Command('fhir-smart')
  .description('Command-line client of the FHIR R4 / SMART server')
  .version(version())
  .option('--profile <name>', 'profile to use (env FHIR_SMART_PROFILE; default: the first profile logged in to)')
  .option('--server <url>', 'server origin, e.g. http://localhost:3000 (env FHIR_SMART_SERVER)')
  .option('--tenant <tenant>', 'tenant (env FHIR_SMART_TENANT; default: the profile\'s, else default)')
  .option('--project <project>', 'project (env FHIR_SMART_PROJECT; default: the profile\'s, else default)')
  .option('--token <token>', 'use this access token as is (env FHIR_SMART_TOKEN); no profile needed')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program
  .command('login')
  .description('sign in: in the browser (authorization code + PKCE, loopback redirect), or with --client-credentials')
  .option('--no-browser', 'print the sign-in URL instead of opening the browser')
  .option('--client-credentials', 'log in as a confidential client (client_credentials grant)')
  .option('--client-id <id>', 'client id (default fhir-smart-cli for the browser; env FHIR_SMART_CLIENT_ID)')
  .option('--client-secret <secret>', 'client secret for --client-credentials (env FHIR_SMART_CLIENT_SECRET)')
  .option('--scope <scopes>', 'scopes to ask for (browser default: openid fhirUser profile offline_access user/*.*)')
  .option('--port <port>', 'loopback port of the redirect (default: any free port)')
  .option('--timeout <seconds>', 'how long to wait for the browser', '300')
  .action((options, command: Command) => login(options, globalsOf(command), env, store));

program
  .command('logout')
  .description('revoke the tokens of the current project (RFC 7009) and forget them')
  .action((_options, command: Command) => logout(globalsOf(command), env, store));

program
  .command('whoami')
  .description('the signed-in user (userinfo) or client, the granted scopes and the project')
  .option('--json', 'print JSON')
  .action((options: { json?: boolean }, command: Command) => whoami(options, connect(command)));

const apiCommand = program.command('api').description('FHIR REST interactions: api <interaction> r4 <type> [id]');
const dataOption = (): Option => new Option('--data <json>', 'the body: JSON, @file, or - for stdin');
const pagingOptions = (command: Command): Command =>
  command.option('--all', 'follow next links: every page (one Bundle, or every line with --output ndjson)').addOption(new Option('--output <format>', 'json or ndjson').choices(['json', 'ndjson']).default('json'));
apiCommand
  .command('create')
  .argument('<version>', 'r4')
  .argument('[type]', "resource type (default: the body's resourceType)")
  .addOption(dataOption().makeOptionMandatory())
  .description('create a resource (POST [type])')
  .action((version: string, type: string | undefined, options: { data: string }, command: Command) => (checkVersion(version), api.create(connect(command), type, options.data)));
apiCommand
  .command('read')
  .argument('<version>')
  .argument('<type>')
  .argument('<id>')
  .description('read a resource (GET [type]/[id])')
  .action((version: string, type: string, id: string, _o, command: Command) => (checkVersion(version), api.read(connect(command), type, id)));
apiCommand
  .command('vread')
  .argument('<version>')
  .argument('<type>')
  .argument('<id>')
  .argument('<vid>')
  .description('read a version (GET [type]/[id]/_history/[vid])')
  .action((version: string, type: string, id: string, vid: string, _o, command: Command) => (checkVersion(version), api.vread(connect(command), type, id, vid)));
apiCommand
  .command('update')
  .argument('<version>')
  .argument('<type>')
  .argument('<id>')
  .addOption(dataOption().makeOptionMandatory())
  .option('--if-match <version>', 'only when the current version is this one (412 otherwise)')
  .description('create or replace a resource with this id (PUT [type]/[id])')
  .action((version: string, type: string, id: string, options: { data: string; ifMatch?: string }, command: Command) =>
    (checkVersion(version), api.update(connect(command), type, id, options.data, options.ifMatch)));
apiCommand
  .command('patch')
  .argument('<version>')
  .argument('<type>')
  .argument('<id>')
  .addOption(dataOption().makeOptionMandatory())
  .description('apply a JSON Patch (PATCH [type]/[id])')
  .action((version: string, type: string, id: string, options: { data: string }, command: Command) => (checkVersion(version), api.patch(connect(command), type, id, options.data)));
apiCommand
  .command('delete')
  .argument('<version>')
  .argument('<type>')
  .argument('<id>')
  .description('delete a resource (DELETE [type]/[id])')
  .action((version: string, type: string, id: string, _o, command: Command) => (checkVersion(version), api.delete(connect(command), type, id)));
pagingOptions(
  apiCommand
    .command('search')
    .argument('<version>')
    .argument('[type]', 'resource type (none: every type)')
    .argument('[params...]', 'search parameters as name=value (or one query string)')
    .description('search (GET [type]?params)'),
).action((version: string, type: string | undefined, params: string[], options: { all?: boolean; output?: string }, command: Command) =>
  (checkVersion(version), api.search(connect(command), type, params, options)));
pagingOptions(
  apiCommand
    .command('history')
    .argument('<version>')
    .argument('[type]')
    .argument('[id]')
    .option('--since <instant>', 'only versions after this instant (_since)')
    .option('--count <n>', 'page size (_count)')
    .description('history of a resource, a type or the whole project'),
).action((version: string, type: string | undefined, id: string | undefined, options: { all?: boolean; output?: string; since?: string; count?: string }, command: Command) =>
  (checkVersion(version), api.history(connect(command), type, id, options)));

const projectCommand = program.command('project').description('projects (the Project resources of the system project)');
projectCommand
  .command('create')
  .argument('<tenant/name>')
  .option('--title <title>', 'display name')
  .option('--seed <name>', 'seed bundle to load, e.g. demo')
  .option('--owner <user>', 'User (of the system project) who owns the new project (default: you)')
  .option('--system <tenant/project>', 'the system project', 'default/default')
  .description('create a project (and its tenant)')
  .action((value: string, options, command: Command) => projectCreate(connect(command), value, options));
projectCommand
  .command('list [tenant]')
  .option('--system <tenant/project>', 'the system project', 'default/default')
  .option('--json', 'one JSON resource per line')
  .description('list projects (of one tenant when given)')
  .action((tenant: string | undefined, options, command: Command) => projectList(connect(command), { ...options, tenant }));
projectCommand
  .command('use')
  .argument('<tenant/name>')
  .description("switch the profile's project")
  .action((value: string, _o, command: Command) => projectUse(resolveTarget(globalsOf(command), env, store), store, value));

program
  .command('client')
  .description('OAuth clients')
  .command('register')
  .argument('<name>', 'display name')
  .option('--id <id>', 'client id (default: generated)')
  .option('--grant <grant>', 'grant type, repeatable (default: client_credentials, or authorization_code + refresh_token with --redirect-uri)', collect)
  .option('--redirect-uri <uri>', 'redirect URI, repeatable', collect)
  .option('--scope <scopes>', 'the scopes it may be granted')
  .option('--public', 'a public client (no secret; PKCE)')
  .option('--policy <id>', 'add the client to this AccessPolicy\'s targets')
  .option('--description <text>', 'description')
  .description('register a ClientApplication; a confidential client\'s secret is printed once')
  .action((name: string, options, command: Command) => clientRegister(connect(command), name, options));

const userCommand = program.command('user').description('users of the project (User + Membership)');
for (const [name, invite] of [
  ['add', false],
  ['invite', true],
] as const) {
  const sub = userCommand
    .command(name)
    .argument('<email>')
    .option('--name <name>', 'display name')
    .option('--role <role>', 'owner, admin or member', 'member')
    .option('--policy <id>', "add the user's Membership to this AccessPolicy's targets")
    .option('--link <reference>', 'the clinical identity: Patient/<id>, Practitioner/<id>, …')
    .description(invite ? 'create a User and Membership with a one-time password, printed once' : 'create a User and Membership');
  if (!invite) sub.option('--password <password>', 'the password').option('--password-stdin', 'read the password from stdin');
  sub.action((email: string, options, command: Command) => userCreate(connect(command), email, options, invite));
}

program
  .command('policy')
  .description('access policies')
  .command('evaluate')
  .requiredOption('--principal <reference>', 'Membership/<id> or ClientApplication/<id>')
  .option('--method <method>', 'GET, POST, PUT, PATCH or DELETE', 'GET')
  .requiredOption('--url <url>', 'the request, relative to the FHIR base: Observation/obs-1, Patient?name=x')
  .option('--scope <scopes>', 'the scopes of the token (%scopes)')
  .option('--client <id>', 'the app a user principal uses')
  .option('--data <json>', 'the body: a resource, or a JSON Patch (JSON, @file, -)')
  .option('--json', 'print the Parameters answer')
  .description('how the AccessPolicies judge a request ($evaluate-policy), with the trace as a tree')
  .action((options, command: Command) => policyEvaluate(connect(command), options));

const keysCommand = program.command('keys').description("the project's token signing keys (owners and admins)");
keysCommand
  .command('list')
  .option('--json', 'print JSON')
  .description('the signing keys: kid, created, retired, published until')
  .action((options: { json?: boolean }, command: Command) => keysList(connect(command), options));
keysCommand
  .command('rotate')
  .description('retire the active signing key and create a new one')
  .action((_o, command: Command) => keysRotate(connect(command)));

program
  .command('import')
  .argument('<path>', 'a .ndjson file, a Bundle .json file, or a directory of them')
  .option('--batch-size <n>', 'resources per transaction (1-1000)', '500')
  .option('--skip-existing', 'leave out resources whose id exists (resume an interrupted import)')
  .description('load resources in transaction batches, with progress and a summary')
  .action((input: string, options, command: Command) => importResources(connect(command), input, options));

program
  .command('export')
  .argument('<types...>', 'resource types')
  .option('--since <instant>', 'only resources changed after this instant')
  .option('--out <file>', 'write to this file (default: stdout)')
  .description('write resources as NDJSON')
  .action((types: string[], options, command: Command) => exportResources(connect(command), types, options));

function finish(code: number): void {
  process.exitCode = code;
}

program.parseAsync(process.argv).then(
  () => finish(EXIT_OK),
  (err: unknown) => {
    if (err instanceof CommanderError) {
      // commander printed its message; help and version are successes.
      finish(['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code) ? EXIT_OK : EXIT_USAGE);
    } else if (err instanceof CliError) {
      process.stderr.write(`fhir-smart: ${err.message}\n`);
      finish(err.exitCode);
    } else {
      process.stderr.write(`fhir-smart: ${err instanceof Error ? err.message : String(err)}\n`);
      finish(EXIT_HTTP);
    }
  },
);
