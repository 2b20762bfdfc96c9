/**
 * Renders the user data of the CloudFormation templates in cloudformation/ the way CloudFormation
 * would for given parameter values: parses the template (short-form tags included), evaluates
 * Fn::Base64 / Fn::Sub / Ref / Fn::GetAtt / Fn::If / Fn::Join for the launch templates' UserData, and
 * decodes it. Only what the templates use is implemented; anything else throws, so a template change
 * that the renderer does not understand fails the tests instead of rendering something wrong.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type CollectionTag, parse, type ScalarTag } from 'yaml';
import { REPO_ROOT } from './openbao.js';

export const CFN_DIR = join(REPO_ROOT, 'cloudformation');
export const TEMPLATES = ['etcd.yaml', 'control-plane.yaml', 'workers.yaml'] as const;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface Template {
  Parameters: Record<string, { Type: string; Default?: Json; NoEcho?: boolean; AllowedPattern?: string }>;
  Conditions?: Record<string, Json>;
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, Json>; [key: string]: Json | undefined }
  >;
  Outputs?: Record<string, Json>;
}

// !Ref X -> { Ref: X }, !GetAtt A.B -> { 'Fn::GetAtt': [A, B] }, !Sub/!If/... -> { 'Fn::Sub': ... }.
const FUNCTIONS = [
  'Sub',
  'If',
  'Not',
  'Equals',
  'Join',
  'Base64',
  'Select',
  'Split',
  'FindInMap',
  'ImportValue',
];
const cfnTags: (ScalarTag | CollectionTag)[] = [
  { tag: '!Ref', resolve: (v: string) => ({ Ref: v }) } as ScalarTag,
  { tag: '!GetAtt', resolve: (v: string) => ({ 'Fn::GetAtt': v.split('.') }) } as ScalarTag,
  ...FUNCTIONS.flatMap((name) => [
    { tag: `!${name}`, resolve: (v: unknown) => ({ [`Fn::${name}`]: v }) } as ScalarTag,
    {
      tag: `!${name}`,
      collection: 'seq',
      resolve: (v: { toJSON(): unknown }) => ({ [`Fn::${name}`]: v.toJSON() }),
    } as unknown as CollectionTag,
    {
      tag: `!${name}`,
      collection: 'map',
      resolve: (v: { toJSON(): unknown }) => ({ [`Fn::${name}`]: v.toJSON() }),
    } as unknown as CollectionTag,
  ]),
];

export function loadTemplate(file: string): Template {
  return parse(readFileSync(join(CFN_DIR, file), 'utf8'), {
    customTags: cfnTags,
    maxAliasCount: -1,
  }) as Template;
}

/** Parameter values for a sample stack: the given ones, then each parameter's default. */
export function sampleParameters(template: Template, given: Record<string, string>): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, p] of Object.entries(template.Parameters)) {
    const value = given[name] ?? (p.Default === undefined ? undefined : String(p.Default));
    if (value === undefined) throw new Error(`sample parameters lack ${name} (no default)`);
    if (p.AllowedPattern && !p.Type.startsWith('List') && !new RegExp(p.AllowedPattern).test(value)) {
      throw new Error(`sample value for ${name} does not match its AllowedPattern`);
    }
    values[name] = value;
  }
  return values;
}

interface Context {
  template: Template;
  params: Record<string, string>;
  /** Physical ids of resources (what Ref returns), e.g. eni-0abc for a network interface. */
  resourceIds: Record<string, string>;
}

const PSEUDO: Record<string, string> = {
  'AWS::StackName': 'vpa-sample',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
};

function ref(name: string, ctx: Context, locals: Record<string, string> = {}): string {
  if (name in locals) return locals[name] as string;
  if (name in PSEUDO) return PSEUDO[name] as string;
  if (name in ctx.params) return ctx.params[name] as string;
  if (name in ctx.template.Resources) return ctx.resourceIds[name] ?? `${name}-physical-id`;
  throw new Error(`unresolvable reference ${name}`);
}

function sub(text: string, ctx: Context, locals: Record<string, string>): string {
  // ${!Literal} renders as ${Literal}; ${Name} and ${Resource.Attribute} are substituted.
  return text.replace(/\$\{(!?)([^}]*)\}/g, (_all, bang: string, name: string) => {
    if (bang) return `\${${name}}`;
    if (name.includes('.') && !name.startsWith('AWS::'))
      throw new Error(`Fn::Sub attribute ${name} is not rendered`);
    return ref(name, ctx, locals);
  });
}

function evaluate(node: Json, ctx: Context): Json {
  if (typeof node === 'string' || typeof node !== 'object' || node === null) return node;
  if (Array.isArray(node)) return node.map((n) => evaluate(n, ctx));
  const keys = Object.keys(node);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = node[key] as Json;
    switch (key) {
      case 'Ref':
        return ref(arg as string, ctx);
      case 'Fn::Base64':
        return Buffer.from(String(evaluate(arg, ctx))).toString('base64');
      case 'Fn::Sub': {
        if (typeof arg === 'string') return sub(arg, ctx, {});
        const [text, vars] = arg as [string, Record<string, Json>];
        const locals = Object.fromEntries(
          Object.entries(vars).map(([k, v]) => [k, String(evaluate(v, ctx))]),
        );
        return sub(text, ctx, locals);
      }
      case 'Fn::Join': {
        const [sep, list] = arg as [string, Json];
        return (evaluate(list, ctx) as Json[]).map(String).join(sep);
      }
      default:
        if (key.startsWith('Fn::')) throw new Error(`${key} is not rendered`);
    }
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, evaluate(v, ctx)]));
}

export interface RenderedUserData {
  /** Logical id of the launch template. */
  resource: string;
  /** The decoded user data (a cloud-config document). */
  text: string;
  /** As CloudFormation hands it to EC2 (base64). */
  base64: string;
}

/** The user data of every launch template in the template, rendered with these parameter values. */
export function renderUserData(
  file: string,
  given: Record<string, string>,
  resourceIds: Record<string, string> = {},
): RenderedUserData[] {
  const template = loadTemplate(file);
  const ctx: Context = { template, params: sampleParameters(template, given), resourceIds };
  const out: RenderedUserData[] = [];
  for (const [name, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::EC2::LaunchTemplate') continue;
    const data = (resource.Properties?.LaunchTemplateData ?? {}) as Record<string, Json>;
    const userData = data.UserData as { 'Fn::Base64'?: Json } | undefined;
    if (!userData?.['Fn::Base64']) throw new Error(`${name}: UserData is not Fn::Base64`);
    const base64 = String(evaluate(userData as Json, ctx));
    out.push({ resource: name, base64, text: Buffer.from(base64, 'base64').toString('utf8') });
  }
  return out;
}

export interface WriteFile {
  path: string;
  content: string;
  permissions?: string;
  owner?: string;
  encoding?: string;
}

/** write_files of a rendered cloud-config, with b64 content decoded. */
export function writeFilesOf(cloudConfig: string): WriteFile[] {
  const doc = parse(cloudConfig) as { write_files?: WriteFile[] };
  return (doc.write_files ?? []).map((f) => ({
    ...f,
    content: f.encoding === 'b64' ? Buffer.from(f.content, 'base64').toString('utf8') : f.content,
  }));
}

/** Sample parameter values that satisfy every template's constraints. */
export function sampleValues(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ClusterId: 'c1',
    VaultAddress: 'https://vault.internal:8200',
    VaultCaCertificate: Buffer.from(
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    ).toString('base64'),
    VaultToken: 's.SampleNodeToken0123456789',
    AgentArtifactUrl: 'https://artifacts.example.internal/vault-pki-agent-0.1.0.tgz',
    AgentArtifactSha256: 'a'.repeat(64),
    SubnetIds: 'subnet-0aaa,subnet-0bbb',
    SecurityGroupIds: 'sg-0aaa',
    ApiLoadBalancerDns: 'api.c1.example.internal',
    EtcdEndpoints: 'https://10.0.1.10:2379,https://10.0.2.10:2379,https://10.0.3.10:2379',
    EtcdDomain: 'etcd.c1.example.internal',
    Member1SubnetId: 'subnet-0aaa',
    Member1Address: '10.0.1.10',
    Member2SubnetId: 'subnet-0bbb',
    Member2Address: '10.0.2.10',
    Member3SubnetId: 'subnet-0ccc',
    Member3Address: '10.0.3.10',
    ...overrides,
  };
}

/** Prefixes the absolute /etc and /var paths of a rendered agent config with a scratch root. */
export function rerootPaths(config: string, root: string): string {
  return config.replace(/(?<=[\s:[{,"])\/(etc|var)\//g, `${root}/$1/`);
}

/**
 * Writes a rendered cloud-config's write_files under `root` the way cloud-init would on an instance
 * (content, mode), with the agent config's paths moved under `root` too. Returns the config's path.
 */
export function materializeWriteFiles(cloudConfig: string, root: string): string {
  let configFile = '';
  for (const f of writeFilesOf(cloudConfig)) {
    const target = join(root, f.path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    const isConfig = f.path === '/etc/vault-pki-agent/config.yaml';
    if (isConfig) configFile = target;
    const mode = Number.parseInt(f.permissions ?? '0644', 8);
    writeFileSync(target, isConfig ? rerootPaths(f.content, root) : f.content, { mode });
    chmodSync(target, mode);
  }
  if (!configFile) throw new Error('the user data writes no /etc/vault-pki-agent/config.yaml');
  return configFile;
}
