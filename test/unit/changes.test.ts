// `--change` (import / commit): Dockerfile instructions applied to an image config, parsed the way
// Docker parses them (JSON vs shell form, ENV/LABEL pairs with quotes and $VAR expansion, WORKDIR
// relative to the previous one, EXPOSE ranges, ENTRYPOINT resetting an inherited CMD, errors).
import { describe, expect, it } from 'vitest';

import { PockerError } from '../../lib/errors.js';
import { CHANGE_INSTRUCTIONS, parseChanges } from '../../lib/image/archive.js';
import type { ContainerConfig } from '../../lib/image/types.js';

describe('parseChanges: CMD and ENTRYPOINT', () => {
  const rows: Array<[string, ContainerConfig]> = [
    ['CMD ["echo","hi"]', { Cmd: ['echo', 'hi'] }],
    ['CMD [ "echo" , "a b" ]', { Cmd: ['echo', 'a b'] }],
    ['CMD []', { Cmd: [] }],
    ['CMD sh -c x', { Cmd: ['/bin/sh', '-c', 'sh -c x'] }],
    ['CMD echo "$HOME"  \'x\'', { Cmd: ['/bin/sh', '-c', 'echo "$HOME"  \'x\''] }],
    // Not a JSON array of strings: shell form, as Docker does.
    ["CMD ['echo', 'hi']", { Cmd: ['/bin/sh', '-c', "['echo', 'hi']"] }],
    ['CMD ["echo", 1]', { Cmd: ['/bin/sh', '-c', '["echo", 1]'] }],
    ['cmd ["lower"]', { Cmd: ['lower'] }],
    ['ENTRYPOINT ["/bin/app","--flag"]', { Entrypoint: ['/bin/app', '--flag'], Cmd: null }],
    ['ENTRYPOINT exec app', { Entrypoint: ['/bin/sh', '-c', 'exec app'], Cmd: null }],
  ];
  it.each(rows)('%s', (change, expected) => {
    expect(parseChanges([change])).toEqual(expected);
  });

  it('ENTRYPOINT resets an inherited Cmd, not one set by the same changes', () => {
    const base: ContainerConfig = { Cmd: ['inherited'] };
    expect(parseChanges(['ENTRYPOINT ["e"]'], base)).toEqual({ Cmd: null, Entrypoint: ['e'] });
    expect(parseChanges(['CMD ["c"]', 'ENTRYPOINT ["e"]'], base)).toEqual({ Cmd: ['c'], Entrypoint: ['e'] });
    expect(parseChanges(['ENTRYPOINT ["e"]', 'CMD ["c"]'], base)).toEqual({ Cmd: ['c'], Entrypoint: ['e'] });
    expect(base).toEqual({ Cmd: ['inherited'] }); // not modified
  });

  it('shell form uses the config Shell when there is one', () => {
    expect(parseChanges(['CMD echo hi'], { Shell: ['/bin/bash', '-ec'] }).Cmd).toEqual(['/bin/bash', '-ec', 'echo hi']);
  });
});

describe('parseChanges: ENV and LABEL', () => {
  it('key=value pairs, quotes, escapes, replacement of an existing key', () => {
    const c = parseChanges(['ENV A=b', 'ENV C="d e" F=g\\ h I=\'$J\'', 'ENV A=new'], { Env: ['PATH=/bin', 'A=old'] });
    expect(c.Env).toEqual(['PATH=/bin', 'A=new', 'C=d e', 'F=g h', 'I=$J']);
  });

  it('the legacy form: the value is the rest of the line', () => {
    expect(parseChanges(['ENV GREETING hello  big   world']).Env).toEqual(['GREETING=hello  big   world']);
    expect(parseChanges(['LABEL maintainer someone <a@b>']).Labels).toEqual({ maintainer: 'someone <a@b>' });
  });

  it('$VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt} expand from the env before the instruction', () => {
    const c = parseChanges(
      ['ENV BASE=/opt', 'ENV BIN=$BASE/bin LIB=${BASE}/lib DEF=${NOPE:-fallback} ALT=${BASE:+set} NONE=${NOPE:+x} SAME=$BIN', 'WORKDIR $BASE/work'],
      {},
    );
    expect(c.Env).toEqual(['BASE=/opt', 'BIN=/opt/bin', 'LIB=/opt/lib', 'DEF=fallback', 'ALT=set', 'NONE=', 'SAME=']);
    expect(c.WorkingDir).toBe('/opt/work');
  });

  it('LABEL pairs, quoted keys', () => {
    expect(parseChanges(['LABEL a=1 "com.example.x"="y z"', 'LABEL a=2']).Labels).toEqual({ a: '2', 'com.example.x': 'y z' });
  });

  it('errors', () => {
    expect(() => parseChanges(['ENV A=b C'])).toThrow(/can't find = in "C"/);
    expect(() => parseChanges(['ENV =b'])).toThrow(/names can not be blank/);
    expect(() => parseChanges(['ENV A'])).toThrow(/ENV must have two arguments/);
    expect(() => parseChanges(['ENV A="unterminated'])).toThrow(/matching double-quote/);
    expect(() => parseChanges(["ENV A='x"])).toThrow(/matching single-quote/);
  });
});

describe('parseChanges: WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, ONBUILD', () => {
  it('WORKDIR is absolute, relative to the previous one, normalised', () => {
    expect(parseChanges(['WORKDIR /app']).WorkingDir).toBe('/app');
    expect(parseChanges(['WORKDIR /app', 'WORKDIR sub/../src/']).WorkingDir).toBe('/app/src');
    expect(parseChanges(['WORKDIR rel']).WorkingDir).toBe('/rel');
    expect(parseChanges(['WORKDIR x'], { WorkingDir: '/base' }).WorkingDir).toBe('/base/x');
  });

  it('USER', () => {
    expect(parseChanges(['USER app:app']).User).toBe('app:app');
    expect(parseChanges(['USER 1000']).User).toBe('1000');
  });

  it('EXPOSE ports, protocols and ranges', () => {
    expect(parseChanges(['EXPOSE 80 53/udp 8000-8002/TCP', 'EXPOSE 9000/sctp']).ExposedPorts).toEqual({
      '80/tcp': {},
      '53/udp': {},
      '8000/tcp': {},
      '8001/tcp': {},
      '8002/tcp': {},
      '9000/sctp': {},
    });
    expect(() => parseChanges(['EXPOSE http'])).toThrow(/invalid containerPort/);
    expect(() => parseChanges(['EXPOSE 80/icmp'])).toThrow(/invalid proto/);
    expect(() => parseChanges(['EXPOSE 70000'])).toThrow(/invalid containerPort/);
    expect(() => parseChanges(['EXPOSE 90-80'])).toThrow(/invalid range/);
  });

  it('VOLUME in JSON and word form', () => {
    expect(parseChanges(['VOLUME ["/data", "/with space"]', 'VOLUME /a /b']).Volumes).toEqual({ '/data': {}, '/with space': {}, '/a': {}, '/b': {} });
    expect(() => parseChanges(['VOLUME [""]'])).toThrow(/empty string/);
  });

  it('STOPSIGNAL names and numbers', () => {
    expect(parseChanges(['STOPSIGNAL SIGQUIT']).StopSignal).toBe('SIGQUIT');
    expect(parseChanges(['STOPSIGNAL term']).StopSignal).toBe('term');
    expect(parseChanges(['STOPSIGNAL 9']).StopSignal).toBe('9');
    expect(parseChanges(['STOPSIGNAL SIGRTMIN+3']).StopSignal).toBe('SIGRTMIN+3');
    expect(() => parseChanges(['STOPSIGNAL SIGNOPE'])).toThrow(/Invalid signal: SIGNOPE/);
    expect(() => parseChanges(['STOPSIGNAL 0'])).toThrow(/Invalid signal/);
  });

  it('ONBUILD keeps the trigger, refuses ONBUILD/FROM/MAINTAINER triggers', () => {
    expect(parseChanges(['ONBUILD RUN make']).OnBuild).toEqual(['RUN make']);
    expect(() => parseChanges(['ONBUILD FROM x'])).toThrow(/FROM isn't allowed/);
  });
});

describe('parseChanges: what is refused', () => {
  it('unknown instructions and missing arguments are ERR_POCKER_INVALID', () => {
    for (const change of ['FROM alpine', 'RUN make', 'COPY a b', 'HEALTHCHECK NONE', 'CMD', 'ENV', 'WORKDIR   ']) {
      let err: unknown;
      try {
        parseChanges([change]);
      } catch (e) {
        err = e;
      }
      expect(err, change).toBeInstanceOf(PockerError);
      expect((err as PockerError).code).toBe('ERR_POCKER_INVALID');
    }
    expect(() => parseChanges(['FROM alpine'])).toThrow(/FROM is not a valid change command/);
    expect(() => parseChanges(['CMD'])).toThrow(/CMD requires at least one argument/);
  });

  it('blank changes are ignored; the instruction list is Docker’s minus HEALTHCHECK', () => {
    expect(parseChanges(['', '   '])).toEqual({});
    expect([...CHANGE_INSTRUCTIONS].sort()).toEqual(['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);
  });
});
