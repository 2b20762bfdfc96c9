import { describe, expect, it } from 'vitest';
import type { ActionSpec, CertSpec } from '../../src/config/types.js';
import { type PlannedAction, planActions } from '../../src/plan/actions.js';

function spec(name: string, actions: ActionSpec[]): CertSpec {
  return {
    name,
    mount: 'etcd/c1/pki',
    role: 'member',
    mode: 'sign',
    commonName: name,
    dnsSans: [],
    ipSans: [],
    usages: ['server'],
    key: { type: 'ec', bits: 256 },
    ttlSeconds: 3600,
    renewAt: 2 / 3,
    files: {
      dir: `/etc/pki/${name}`,
      names: { cert: 'cert.pem', key: 'key.pem', ca: 'ca.pem', fullchain: 'fullchain.pem' },
      certMode: 0o644,
      dirMode: 0o750,
    },
    actions,
  };
}

const restart = (unit: string, start = false): ActionSpec => ({
  kind: 'systemd',
  unit,
  action: 'restart',
  start,
});
const reload = (unit: string): ActionSpec => ({ kind: 'systemd', unit, action: 'reload', start: false });
const exec = (...argv: string[]): ActionSpec => ({ kind: 'exec', argv });

const SPECS = [
  spec('etcd-server', [restart('etcd.service')]),
  spec('etcd-peer', [restart('etcd.service')]),
  spec('apiserver', [reload('kube-apiserver.service'), exec('/usr/local/bin/notify', 'api')]),
  spec('apiserver-etcd-client', [restart('kube-apiserver.service', true)]),
  spec('kubelet-client', [exec('/usr/local/bin/notify', 'kubelet'), restart('kubelet.service')]),
];

const summary = (plan: PlannedAction[]) =>
  plan.map((a) =>
    a.kind === 'systemd'
      ? `${a.action}${a.start ? '+start' : ''} ${a.unit} <- ${a.certNames.join(',')}`
      : `exec ${a.argv.join(' ')} [${a.certName} ${a.certDir}]`,
  );

describe('planActions', () => {
  it.each([
    { name: 'nothing changed: nothing runs', changed: [], want: [] },
    {
      name: 'a unit fed by two changed sets runs once, listing both',
      changed: ['etcd-peer', 'etcd-server'],
      want: ['restart etcd.service <- etcd-server,etcd-peer'],
    },
    {
      name: 'unchanged sets trigger nothing, even when they share a unit',
      changed: ['etcd-peer'],
      want: ['restart etcd.service <- etcd-peer'],
    },
    {
      name: 'config order, first appearance; the stronger verb and start win when merged',
      changed: ['kubelet-client', 'apiserver-etcd-client', 'apiserver', 'etcd-server'],
      want: [
        'restart etcd.service <- etcd-server',
        'restart+start kube-apiserver.service <- apiserver,apiserver-etcd-client',
        'exec /usr/local/bin/notify api [apiserver /etc/pki/apiserver]',
        'exec /usr/local/bin/notify kubelet [kubelet-client /etc/pki/kubelet-client]',
        'restart kubelet.service <- kubelet-client',
      ],
    },
    {
      name: 'a reload alone stays a reload',
      changed: ['apiserver'],
      want: [
        'reload kube-apiserver.service <- apiserver',
        'exec /usr/local/bin/notify api [apiserver /etc/pki/apiserver]',
      ],
    },
    { name: 'names not in the config are ignored', changed: ['nope'], want: [] },
  ])('$name', ({ changed, want }) => {
    expect(summary(planActions(changed, SPECS))).toEqual(want);
  });

  it('start is the weakest verb: a set that needs a restart of the same unit wins, start alone stays start', () => {
    const start = (unit: string): ActionSpec => ({ kind: 'systemd', unit, action: 'start', start: false });
    const specs = [
      spec('apiserver', [start('kube-apiserver.service')]),
      spec('apiserver-etcd-client', [restart('kube-apiserver.service')]),
      spec('scheduler', [start('kube-scheduler.service')]),
    ];
    expect(summary(planActions(['apiserver', 'apiserver-etcd-client', 'scheduler'], specs))).toEqual([
      'restart kube-apiserver.service <- apiserver,apiserver-etcd-client',
      'start kube-scheduler.service <- scheduler',
    ]);
    expect(summary(planActions(['apiserver'], specs))).toEqual(['start kube-apiserver.service <- apiserver']);
  });

  it('runs an exec action once per changed certificate, even with the same argv', () => {
    const specs = [spec('a', [exec('/bin/true')]), spec('b', [exec('/bin/true')])];
    expect(summary(planActions(['b', 'a'], specs))).toEqual([
      'exec /bin/true [a /etc/pki/a]',
      'exec /bin/true [b /etc/pki/b]',
    ]);
  });

  it('does not let the plan alias the config', () => {
    const specs = [spec('a', [exec('/bin/echo', 'x')])];
    const plan = planActions(['a'], specs);
    if (plan[0]?.kind === 'exec') plan[0].argv.push('mutated');
    expect(specs[0]?.actions[0]).toEqual(exec('/bin/echo', 'x'));
  });
});
