// Drives a command on a real terminal (a pty from python3's pty module: node-pty would need a
// native build against Node's headers, which `npm install` would download from outside the npm
// registry). The script waits for output, not for time: `expect` a pattern, then `send` keys.
import { spawn } from 'node:child_process';

import { repoRoot } from './helpers.js';

export type PtyStep = { expect: RegExp } | { send: string };

const DRIVER = String.raw`
import json, os, pty, re, select, signal, struct, sys, time, fcntl, termios
spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', spec['rows'], spec['cols'], 0, 0))
    os.execv(spec['argv'][0], spec['argv'])
out = b''
eof = False
deadline = time.time() + spec['timeout']
def read_some(timeout):
    global out, eof
    r, _, _ = select.select([fd], [], [], timeout)
    if fd in r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b''
        if not chunk:
            eof = True
        out += chunk
def fail(why):
    sys.stderr.write(why + '\n')
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    sys.stdout.write(out.decode('utf-8', 'replace'))
    sys.exit(124)
seen = 0
for kind, value in spec['steps']:
    if kind == 'send':
        os.write(fd, value.encode())
        continue
    pattern = re.compile(value.encode(), re.S)
    while True:
        m = pattern.search(out, seen)
        if m:
            seen = m.end()
            break
        if eof or time.time() > deadline:
            fail('pty driver: timed out waiting for /%s/' % value)
        read_some(0.2)
while not eof and time.time() < deadline:
    read_some(0.2)
if not eof:
    fail('pty driver: timed out waiting for the end of output')
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf-8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;

/**
 * Runs `argv` on a `rows` x `cols` pty, plays `steps` (each `expect` waits for its pattern in the
 * output after the previous match), then reads until the terminal closes. Resolves with everything
 * the terminal printed and the exit code (124 and a message on stderr when a wait timed out).
 */
export function runOnPty(argv: string[], steps: PtyStep[], opts: { rows?: number; cols?: number; timeoutMs?: number } = {}): Promise<{ code: number | null; out: string; err: string }> {
  const spec = {
    argv,
    rows: opts.rows ?? 30,
    cols: opts.cols ?? 90,
    timeout: (opts.timeoutMs ?? 60_000) / 1000,
    steps: steps.map((s) => ('send' in s ? ['send', s.send] : ['expect', s.expect.source])),
  };
  const child = spawn('python3', ['-c', DRIVER, JSON.stringify(spec)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}
