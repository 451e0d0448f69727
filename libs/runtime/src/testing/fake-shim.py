#!/usr/bin/python3
# Test double of berth-shim's process interface (create/start/exec), so the
# monitor and the lifecycle driver can be tested apart from the real shim.
# create reads <state-dir>/mockcmd (JSON {args, fail?}), exec its config path.
import os, sys, socket, pty, json, array, fcntl, termios
cmd, st = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
def opt(name):
    return args[args.index(name) + 1] if name in args else None
if cmd in ('create', 'exec'):
    cfgpath = os.path.join(st, 'mockcmd') if cmd == 'create' else args[0]
    cfg = json.load(open(cfgpath))
    if cfg.get('fail'):
        sys.stderr.write('berth-shim: ' + cfg['fail'] + '\n'); sys.exit(1)
    console = opt('--console-socket')
    pidfile = opt('--pid-file') if cmd == 'exec' else os.path.join(st, 'pid')
    fifo = os.path.join(st, 'start.fifo')
    if cmd == 'create': os.mkfifo(fifo)
    if console: master, slave = pty.openpty()
    pid = os.fork()
    if pid == 0:
        if console:
            os.setsid(); fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for i in range(3): os.dup2(slave, i)
            os.close(master)
        if cmd == 'create':
            with open(fifo) as f: f.read(1)
        try:
            os.execvp(cfg['args'][0], cfg['args'])
        except OSError as e:
            sys.stderr.write('exec: %s\n' % e); os._exit(127)
    if console:
        s = socket.socket(socket.AF_UNIX); s.connect(console)
        s.sendmsg([b'/dev/pts/x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [master]))])
        s.close(); os.close(master); os.close(slave)
    open(pidfile, 'w').write(str(pid))
    sys.exit(0)
if cmd == 'start':
    fd = os.open(os.path.join(st, 'start.fifo'), os.O_WRONLY); os.write(fd, b'x'); os.close(fd)
    os.unlink(os.path.join(st, 'start.fifo'))
