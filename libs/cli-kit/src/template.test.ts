import { describe, expect, it } from 'vitest';
import { Template, goString } from './template';
import { formatEach, formatRows } from './format';
import { ellipsis, renderTable } from './table';

const run = (src: string, data: unknown, strictRoot = false) => Template.parse(src).execute(data, { strictRoot });

const INSPECT = {
  Id: 'abc', Name: '/web', State: { Status: 'running', Pid: 42, Running: true },
  Config: { Cmd: ['nginx', '-g', 'daemon off;'], Labels: { 'com.example.tier': 'front', a: 'b' }, Env: ['A=1'] },
  NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' }, other: { IPAddress: '10.0.0.5' } } },
  Mounts: [],
};

describe('Go template subset', () => {
  const cases: [string, string][] = [
    ['{{.Name}}', '/web'],
    ['{{.State.Pid}}', '42'],
    ['{{.State.Running}}', 'true'],
    ['{{.Config.Cmd}}', '[nginx -g daemon off;]'],
    ['{{.Config.Labels}}', 'map[a:b com.example.tier:front]'],
    ['{{json .State}}', '{"Status":"running","Pid":42,"Running":true}'],
    ['{{json .Config.Cmd}}', '["nginx","-g","daemon off;"]'],
    ['{{index .Config.Labels "com.example.tier"}}', 'front'],
    ['{{.Config.Labels.missing}}', '<no value>'],
    ['{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', '172.17.0.2 10.0.0.5 '],
    ['{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}};{{end}}', 'bridge=172.17.0.2;other=10.0.0.5;'],
    ['{{range .Mounts}}x{{else}}none{{end}}', 'none'],
    ['{{if .State.Running}}up{{else}}down{{end}}', 'up'],
    ['{{if eq .State.Status "exited"}}E{{else if eq .State.Status "running"}}R{{else}}?{{end}}', 'R'],
    ['{{with .State}}{{.Status}}/{{$.Name}}{{end}}', 'running//web'],
    ['{{.Name | upper}}', '/WEB'],
    ['{{upper (join .Config.Cmd "+")}}', 'NGINX+-G+DAEMON OFF;'],
    ['{{join .Config.Env ","}}', 'A=1'],
    ['{{truncate .Id 2}}', 'ab'],
    ['{{len .Config.Cmd}}', '3'],
    ['{{printf "%s:%d" .Name .State.Pid}}', '/web:42'],
    ['a  {{- .Name -}}  b', 'a/webb'],
    ['{{"quoted \\"x\\""}} {{`raw`}}', 'quoted "x" raw'],
    ['{{$n := .Name}}{{$n}}', '/web'],
    ['{{not .Mounts}}', 'true'],
  ];
  for (const [src, want] of cases) it(src, () => expect(run(src, INSPECT)).toBe(want));

  it('function-valued fields are called with their arguments ({{.Label "x"}})', () => {
    const row = { Labels: 'a=b', Label: (k: string) => (k === 'a' ? 'b' : '') };
    expect(run('{{.Label "a"}}|{{.Label "z"}}', row)).toBe('b|');
  });

  it('errors name the problem', () => {
    expect(() => Template.parse('{{.Name')).toThrow(/unclosed action/);
    expect(() => Template.parse('{{if .X}}a')).toThrow(/missing \{\{end\}\}/);
    expect(() => Template.parse('{{end}}')).toThrow(/unexpected \{\{end\}\}/);
    expect(() => run('{{nosuch .Name}}', INSPECT)).toThrow(/function "nosuch" not defined/);
    expect(() => run('{{.Nmae}}', INSPECT, true)).toThrow(/can't evaluate field Nmae/);
    expect(() => run('{{$x}}', INSPECT)).toThrow(/undefined variable "\$x"/);
  });

  it('prints like Go %v', () => {
    expect(goString(null)).toBe('<no value>');
    expect(goString([1, [2, 3], null])).toBe('[1 [2 3] <nil>]');
    expect(goString({ b: 1, a: 'x' })).toBe('map[a:x b:1]');
  });
});

describe('tables', () => {
  it('aligns like Go tabwriter(minwidth 10, padding 3)', () => {
    const out = renderTable([['CONTAINER ID', 'IMAGE', 'NAMES'], ['0123456789ab', 'nginx', 'web'], ['ba9876543210', 'postgres:16', 'db']]);
    expect(out).toBe(
      'CONTAINER ID   IMAGE         NAMES\n' +
      '0123456789ab   nginx         web\n' +
      'ba9876543210   postgres:16   db\n',
    );
    expect(renderTable([['A', 'B'], ['x', 'y']])).toBe('A         B\nx         y\n');
  });
  it('fits a terminal width by shortening shrinkable columns', () => {
    const rows = [['ID', 'COMMAND', 'NAMES'], ['abc', '"' + 'x'.repeat(60) + '"', 'web']];
    const out = renderTable(rows, { maxWidth: 40, shrinkable: [1] });
    for (const line of out.trimEnd().split('\n')) expect([...line].length).toBeLessThanOrEqual(40);
    expect(out).toContain('…');
    expect(renderTable(rows, { maxWidth: 400, shrinkable: [1] })).not.toContain('…');
  });
  it('ellipsis', () => {
    expect(ellipsis('abcdef', 4)).toBe('abc…');
    expect(ellipsis('abc', 4)).toBe('abc');
  });
});

describe('--format', () => {
  const rows = [
    { ID: '0123456789ab', Names: 'web', Image: 'nginx', Label: (k: string) => (k === 'tier' ? 'front' : '') },
    { ID: 'ba9876543210', Names: 'db', Image: 'postgres:16', Label: () => '' },
  ];
  const o = { defaultTable: '{{.ID}}\t{{.Image}}\t{{.Names}}', headers: { ID: 'CONTAINER ID' } };
  it('default table, table TEMPLATE with \\t, plain template, json', () => {
    expect(formatRows('', rows, o)).toBe('CONTAINER ID   IMAGE         NAMES\n0123456789ab   nginx         web\nba9876543210   postgres:16   db\n');
    expect(formatRows('table {{.ID}}\\t{{.Names}}', rows, o)).toBe('CONTAINER ID   NAMES\n0123456789ab   web\nba9876543210   db\n');
    expect(formatRows('table {{.Names}}\\t{{.Label "tier"}}', rows, o)).toBe('NAMES     LABEL\nweb       front\ndb\n');
    expect(formatRows('{{.ID}}\\t{{.Names}}', rows, o)).toBe('0123456789ab\tweb\nba9876543210\tdb\n');
    expect(formatRows('{{json .}}', rows.slice(0, 1), o)).toBe('{"ID":"0123456789ab","Names":"web","Image":"nginx"}\n');
    expect(formatRows('json', rows.slice(0, 1), o)).toBe('{"ID":"0123456789ab","Names":"web","Image":"nginx"}\n');
    expect(() => formatRows('{{.Nope}}', rows, o)).toThrow(/can't evaluate field Nope/);
  });
  it('inspect -f over documents', () => {
    expect(formatEach('{{.State.Status}} {{json .Config.Cmd}}', [INSPECT])).toBe('running ["nginx","-g","daemon off;"]\n');
  });
});
