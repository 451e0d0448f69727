// posix_spawn(3) of a helper with its stdout and stderr on fresh pipes.
// Node's child_process.spawn forks the whole Node process (libuv uses fork on
// Linux): the page tables of a large process are copied while the event loop
// waits, measured at 3-40 ms per spawn in berthd with 100 containers starting
// (the largest event-loop stall of a run). glibc's posix_spawn uses
// clone(CLONE_VM|CLONE_VFORK): no copy, whatever the parent's size.
// The vfork still suspends the calling thread until the child execs, and on a
// busy machine the child waits for a CPU first: 2-88 ms per spawn measured on
// the event loop (perf trace of berthd's main thread, clone3, under the
// eventloop bench). So posix_spawn runs on a libuv worker thread (koffi async);
// the pipes and file actions are made and freed on the calling thread.
//
// The caller owns what it gets: read both pipe ends (then close them) and reap
// the child with waitpidNoHang (libuv reaps only the children it spawned).
import { libc, check, errorFromErrno } from './libc';
import { asyncSlots } from './async-slots';

const pipe2_ = libc.func('int pipe2(_Out_ int *fds, int flags)');
const close_ = libc.func('int close(int fd)');
const faInit_ = libc.func('int posix_spawn_file_actions_init(void *fa)');
const faDestroy_ = libc.func('int posix_spawn_file_actions_destroy(void *fa)');
const faDup2_ = libc.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)');
const faOpen_ = libc.func('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, int mode)');
// pid is written into the caller's Int32Array (an out parameter the worker thread fills).
const spawn_ = libc.func('int posix_spawn(void *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)');

const O_CLOEXEC = 0o2000000;
const O_RDONLY = 0;
/** sizeof(posix_spawn_file_actions_t) is 80 on glibc (x86_64, arm64); more room costs nothing. */
const FILE_ACTIONS_SIZE = 256;

export interface SpawnedHelper {
  pid: number;
  /** Read ends (close-on-exec) of the child's stdout and stderr pipes. */
  stdoutFd: number;
  stderrFd: number;
}

function pipe(): [number, number] {
  const fds = [0, 0];
  check(pipe2_(fds, O_CLOEXEC) as number, 'pipe2');
  return [fds[0]!, fds[1]!];
}

/** Calls of this kind in flight at once (async-slots.ts). */
const slot = asyncSlots(8);

/** posix_spawn(3) on a worker thread: its return value (0, else an errno number) and the child's pid. */
function posixSpawnAsync(path: string, fa: Buffer, argv: string[], env: string[]): Promise<{ rc: number; pid: number }> {
  const pid = new Int32Array(1);
  return new Promise((resolve, reject) => {
    spawn_.async(pid, path, fa, null, [...argv, null], [...env, null], (err: unknown, rc: number) => {
      if (err) reject(err);
      else resolve({ rc: Number(rc), pid: pid[0]! });
    });
  });
}

/**
 * Runs `path` with `argv` (argv[0] included) and `env` ("K=V"), stdin from
 * /dev/null, stdout and stderr into new pipes. Errors (ENOENT, EACCES...) are
 * the typed errno errors of @berth/errors. The spawn runs on a worker thread
 * (see the header): the event loop goes on meanwhile.
 */
export function spawnHelper(path: string, argv: string[], env: string[]): Promise<SpawnedHelper> {
  return slot(async () => {
    const [outR, outW] = pipe();
    let errR = -1;
    let errW = -1;
    const fa = Buffer.alloc(FILE_ACTIONS_SIZE);
    let faReady = false;
    try {
      [errR, errW] = pipe();
      const rc0 = faInit_(fa) as number;
      if (rc0 !== 0) throw errorFromErrno(rc0, 'posix_spawn_file_actions_init');
      faReady = true;
      for (const rc of [
        faOpen_(fa, 0, '/dev/null', O_RDONLY, 0) as number,
        faDup2_(fa, outW, 1) as number,
        faDup2_(fa, errW, 2) as number,
      ]) {
        if (rc !== 0) throw errorFromErrno(rc, 'posix_spawn_file_actions');
      }
      // posix_spawn returns the error number instead of setting errno.
      const { rc, pid } = await posixSpawnAsync(path, fa, argv, env);
      if (rc !== 0) throw errorFromErrno(rc, `spawn ${path}`);
      return { pid, stdoutFd: outR, stderrFd: errR };
    } catch (e) {
      close_(outR);
      if (errR >= 0) close_(errR);
      throw e;
    } finally {
      if (faReady) faDestroy_(fa);
      close_(outW);
      if (errW >= 0) close_(errW);
    }
  });
}
