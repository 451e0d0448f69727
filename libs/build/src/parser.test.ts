import { describe, expect, it } from 'vitest';
import { loadDockerfile } from './instructions';
import { parseDockerfile } from './parser';
import { processWord, processWords } from './shell-lex';

const errorOf = (text: string): string => {
  try {
    loadDockerfile(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('Dockerfile parser', () => {
  it('joins continuation lines, skips comments inside them and keeps the starting line', () => {
    const p = parseDockerfile('# a comment\nFROM busybox\n\nRUN echo a \\\n  # inside\n  && echo b\nCMD ["sh"]\n');
    expect(p.nodes.map((n) => [n.name, n.line])).toEqual([['FROM', 2], ['RUN', 4], ['CMD', 7]]);
    expect(p.nodes[1]!.rest).toBe('echo a   && echo b');
    expect(p.nodes[2]!.json).toEqual(['sh']);
  });

  it('honours the escape directive', () => {
    const p = parseDockerfile('# escape=`\nFROM busybox\nRUN echo a `\n b\n');
    expect(p.escape).toBe('`');
    expect(p.nodes[1]!.rest).toBe('echo a  b');
  });

  it('splits stages, names and global ARGs', () => {
    const df = loadDockerfile('ARG V=1\nFROM busybox:${V} AS Build\nRUN true\nFROM scratch\nCOPY --from=build /a /b\n');
    expect(df.globalArgs.map((a) => a.args[0]!.name)).toEqual(['V']);
    expect(df.stages.map((s) => [s.name, s.from.image, s.instructions.length])).toEqual([['build', 'busybox:${V}', 1], [null, 'scratch', 1]]);
  });

  // One bad line per instruction: Docker's message, naming the line.
  it.each([
    ['FROM busybox\nRUNN echo', 'dockerfile parse error on line 2: unknown instruction: RUNN'],
    ['RUN echo\nFROM busybox', 'dockerfile parse error on line 1: no build stage in current context'],
    ['FROM', 'dockerfile parse error on line 1: FROM requires either one or three arguments'],
    ['FROM a b', 'dockerfile parse error on line 1: FROM requires either one or three arguments'],
    ['FROM a AS 1x', 'dockerfile parse error on line 1: invalid name for build stage: "1x"'],
    ['FROM a AS x\nFROM b AS x', 'dockerfile parse error on line 2: duplicate name x'],
    ['FROM busybox\nRUN', 'dockerfile parse error on line 2: RUN requires at least one argument'],
    ['FROM busybox\nRUN --mount=type=cache,target=/x true', 'dockerfile parse error on line 2: RUN --mount is a BuildKit extension'],
    ['FROM busybox\n\nCOPY onlyone', 'dockerfile parse error on line 3: COPY requires at least two arguments, but only one was provided'],
    ['FROM busybox\nADD', 'dockerfile parse error on line 2: ADD requires at least two arguments'],
    ['FROM busybox\nCOPY --frm=x a b', 'dockerfile parse error on line 2: unknown flag: frm'],
    ['FROM busybox\nENV', 'dockerfile parse error on line 2: ENV requires at least one argument'],
    ['FROM busybox\nENV ONLYKEY', 'dockerfile parse error on line 2: ENV must have two arguments'],
    ['FROM busybox\nENV =x', 'dockerfile parse error on line 2: ENV names can not be blank'],
    ['FROM busybox\nLABEL', 'dockerfile parse error on line 2: LABEL requires at least one argument'],
    ['FROM busybox\nARG', 'dockerfile parse error on line 2: ARG requires at least one argument'],
    ['FROM busybox\nWORKDIR a b', 'dockerfile parse error on line 2: WORKDIR requires exactly one argument'],
    ['FROM busybox\nUSER', 'dockerfile parse error on line 2: USER requires exactly one argument'],
    ['FROM busybox\nSTOPSIGNAL', 'dockerfile parse error on line 2: STOPSIGNAL requires exactly one argument'],
    ['FROM busybox\nEXPOSE', 'dockerfile parse error on line 2: EXPOSE requires at least one argument'],
    ['FROM busybox\nVOLUME [""]', 'dockerfile parse error on line 2: VOLUME specified can not be an empty string'],
    ['FROM busybox\nSHELL /bin/bash -c', 'dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form'],
    ['FROM busybox\nHEALTHCHECK BOGUS x', 'dockerfile parse error on line 2: Unknown type "BOGUS" in HEALTHCHECK (try CMD)'],
    ['FROM busybox\nHEALTHCHECK CMD', 'dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD'],
    ['FROM busybox\nHEALTHCHECK --interval=5 CMD true', 'dockerfile parse error on line 2: time: invalid duration "5"'],
    ['FROM busybox\nHEALTHCHECK --retries=-1 CMD true', 'dockerfile parse error on line 2: --retries cannot be negative (-1)'],
    ['FROM busybox\nONBUILD ONBUILD RUN x', "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"],
    ['FROM busybox\nONBUILD FROM x', "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"],
    ['FROM busybox\nMAINTAINER', 'dockerfile parse error on line 2: MAINTAINER requires at least one argument'],
    ['', 'dockerfile parse error on line 1: the Dockerfile (Dockerfile) cannot be empty'],
  ])('%j -> %s', (text, message) => {
    expect(errorOf(text)).toContain(message);
  });

  it('parses HEALTHCHECK into the image config shape (ns)', () => {
    const df = loadDockerfile('FROM busybox\nHEALTHCHECK --interval=5s --timeout=1m30s --retries=2 CMD wget -q localhost\nHEALTHCHECK NONE\n');
    const [a, b] = df.stages[0]!.instructions;
    expect(a).toMatchObject({ health: { Test: ['CMD-SHELL', 'wget -q localhost'], Interval: 5e9, Timeout: 90e9, Retries: 2 } });
    expect(b).toMatchObject({ health: null });
  });
});

describe('word processing', () => {
  const env = new Map([['A', 'x y'], ['E', '']]);
  it('substitutes variables with their modifiers and removes quotes', () => {
    expect(processWord('$A-${A}', env)).toBe('x y-x y');
    expect(processWord('${E:-def} ${E-def} ${A:+set} ${NOPE+set}|', env)).toBe('def  set |');
    expect(processWord(`'$A' "$A" \\$A`, env)).toBe('$A x y $A');
  });
  it('splits words before substitution', () => {
    expect(processWords('a=$A "b c" d\\ e', env)).toEqual(['a=x y', 'b c', 'd e']);
  });
  it('reports a missing brace', () => {
    expect(() => processWord('${A', env)).toThrow(/missing '}'/);
  });
});
