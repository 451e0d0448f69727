// The libuv threadpool's size, set before anything queues work on it (libuv
// reads UV_THREADPOOL_SIZE once, when the pool starts, and starts it lazily),
// so this module is berthd's first import.
//
// Why 64 and not libuv's 4: every fs/promises call, zlib, crypto and koffi
// async call is queued from the event loop with pthread_cond_signal on the
// pool's condition variable. glibc's condvar (2.36, Debian 12) makes that
// signal wait until every waiter it signaled earlier has woken up
// (__condvar_quiesce_and_switch_g1) once the group of idle threads it wakes
// from is used up; with four threads that group is one or two, and on a
// busy machine a woken thread may wait milliseconds for a CPU. perf trace of
// berthd's main thread under the eventloop bench (load 8-13 on 2 CPUs): 444
// such waits, 5.2 s in all, up to 150 ms each, with 4 threads; 86 waits,
// 0.86 s, with 64 (docs/design/services.md, "Event-loop latency"). Idle
// threads cost no measurable RSS (81.1 vs 80.8 MiB idle). An operator's
// UV_THREADPOOL_SIZE wins.
process.env.UV_THREADPOOL_SIZE ??= '64';
