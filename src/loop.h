/*
 * loop: the single poll() event loop every part of pieces runs in.
 *
 * One thread owns a loop and runs it; every callback below runs on that
 * thread, one at a time. The loop offers:
 *   - fd watchers (loop_io_*), polled with poll(2);
 *   - one-shot timers on CLOCK_MONOTONIC (loop_timer_*), kept in a min-heap;
 *   - signals turned into ordinary callbacks through a self-pipe;
 *   - loop_post(), the only function callable from other threads, which
 *     queues a callback to run on the loop thread;
 *   - a small worker pool whose results come back through loop_post().
 * See docs/loop.md for the design and the rules callers follow.
 *
 * Rules for callers:
 *   - Never block in a callback (no blocking connect/getaddrinfo, no bulk
 *     hashing, no waiting on another thread): hand slow work to the pool.
 *   - Ask for POLLOUT only while output is queued; otherwise poll reports
 *     writable at once, every time, and the loop spins.
 *   - Fairness is the caller's job: handle a bounded number of bytes per
 *     wake-up for each fd so one fast peer cannot starve the others.
 *   - Objects are never freed under a running callback: loop_io_del() only
 *     marks the watcher dead (it is skipped for the rest of the round and
 *     freed after dispatch), and a timer is unlinked before its callback
 *     runs, so both may be deleted from any callback, including their own.
 *   - A loop is not reentrant: do not call loop_run*() from a callback.
 *
 * Functions returning int return 0 or -errno. Nothing here prints or exits.
 */
#ifndef PIECES_LOOP_H
#define PIECES_LOOP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_io;
struct loop_timer;
struct loop_pool;

typedef void (*loop_io_cb)(struct loop_io *io, int fd, short revents, void *arg);
typedef void (*loop_timer_cb)(struct loop_timer *t, void *arg);
typedef void (*loop_signal_cb)(struct loop *loop, int signo, void *arg);
typedef void (*loop_post_cb)(void *arg);
typedef void (*loop_work_fn)(void *arg);

/* Signal numbers accepted by loop_signal() are 1 .. LOOP_MAX_SIGNAL - 1. */
#define LOOP_MAX_SIGNAL 65
/* loop_pool_new() refuses more threads than this. */
#define LOOP_POOL_MAX_THREADS 64

/*
 * Creates a loop; NULL with errno set on failure. Sets SIGPIPE to SIG_IGN
 * for the whole process, so a write to a closed socket returns EPIPE
 * instead of killing us.
 */
struct loop *loop_new(void);
/*
 * Frees the loop and any io watchers still registered (their fds are not
 * closed; their handles become invalid), restores the signal dispositions
 * loop_signal() replaced, disarms remaining timers (their owners still
 * free them) and discards posted callbacks that have not run. Free the pool first; never
 * call it from a callback. NULL is a no-op.
 */
void loop_free(struct loop *loop);

/* Runs iterations until loop_stop(); 0, or -errno if poll() fails. */
int loop_run(struct loop *loop);
/*
 * One iteration: waits up to max_wait_ms (-1: no limit, 0: don't wait)
 * or until the next timer is due, then runs the callbacks of ready fds,
 * signals, posts and due timers. 0, or -errno if poll() fails (EINTR is
 * not a failure).
 */
int loop_run_once(struct loop *loop, int max_wait_ms);
/*
 * Makes loop_run() return after the current iteration. Loop thread only;
 * from another thread, loop_post() a callback that calls it.
 */
void loop_stop(struct loop *loop);

/*
 * Cached monotonic time in milliseconds (arbitrary origin), taken once per
 * wake-up so all callbacks of one iteration see the same "now".
 */
uint64_t loop_now_ms(const struct loop *loop);
/* Refreshes the cached time, e.g. after a long computation in a callback. */
void loop_update_time(struct loop *loop);

/*
 * Watches fd for `events` (POLLIN, POLLOUT, ...); cb gets the revents poll
 * reported, which may include POLLERR, POLLHUP or POLLNVAL even if not
 * asked for (a callback seeing POLLNVAL should delete its watcher).
 * Several watchers on one fd are allowed but rarely useful. A watcher
 * added during dispatch is first polled in the next iteration.
 * NULL with errno set (EINVAL for fd < 0 or no cb, ENOMEM).
 */
struct loop_io *loop_io_add(struct loop *loop, int fd, short events, loop_io_cb cb, void *arg);
/*
 * Changes the events of the next poll. 0 pauses the watcher entirely (not
 * even POLLHUP is reported), e.g. to stop accept()ing on EMFILE.
 */
void loop_io_set_events(struct loop_io *io, short events);
short loop_io_events(const struct loop_io *io);
/*
 * Marks the watcher eager: besides its turn after poll(), its callback is
 * called with POLLIN after every other watcher's callback, so a request
 * on it waits for one callback rather than a whole round of them. For a
 * non-blocking fd whose callback copes with EAGAIN and whose requests
 * gate someone else's progress (a reader blocked in the FUSE device). At
 * most one per loop; a later call replaces it, NULL clears it.
 */
void loop_set_eager(struct loop *loop, struct loop_io *io);
/*
 * Removes the watcher; safe from any callback, including its own. Its
 * callback is not called again. The caller still owns and closes the fd,
 * and may do so right after this call. NULL is a no-op.
 */
void loop_io_del(struct loop_io *io);

/* A one-shot timer, created disarmed. NULL with errno set on failure. */
struct loop_timer *loop_timer_new(struct loop *loop, loop_timer_cb cb, void *arg);
/*
 * Arms the timer to fire delay_ms after loop_now_ms() (call
 * loop_update_time() first if the current callback ran long). Re-arming an
 * armed timer moves it. Timers due at the same time fire in the order they
 * were armed. A timer armed from a timer callback with delay 0 fires in
 * the next iteration, never in the same one, so timers cannot starve fds.
 * Never fails: loop_timer_new() reserved the heap slot.
 */
void loop_timer_start(struct loop_timer *t, uint64_t delay_ms);
/* Disarms; no-op if not armed. */
void loop_timer_stop(struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);
/* Disarms and frees; safe from any callback, including its own. NULL is a no-op. */
void loop_timer_free(struct loop_timer *t);

/*
 * Runs cb(loop, signo, arg) on the loop thread each time signo is
 * delivered (deliveries that arrive before the loop wakes up are counted,
 * not merged, up to what the kernel itself merges). The handler only
 * bumps a counter and writes a byte to the loop's wake pipe. A signal can
 * belong to one loop at a time (-EBUSY otherwise). cb NULL restores the
 * disposition that was in place before. -EINVAL for a bad signo.
 */
int loop_signal(struct loop *loop, int signo, loop_signal_cb cb, void *arg);

/*
 * Queues cb(arg) to run on the loop thread; callable from any thread,
 * including the loop thread (it then runs in the next iteration).
 * Callbacks from one thread run in the order posted. 0 or -ENOMEM.
 */
int loop_post(struct loop *loop, loop_post_cb cb, void *arg);

/*
 * A fixed set of worker threads (1 .. LOOP_POOL_MAX_THREADS) for blocking
 * work: hashing, disk I/O, name resolution. Workers block all signals, so
 * signals always reach the loop thread's handlers. NULL with errno set.
 */
struct loop_pool *loop_pool_new(struct loop *loop, unsigned nthreads);
/*
 * Runs work(arg) on some worker, then done(arg) (if not NULL) on the loop
 * thread. Jobs start in submission order but may finish in any order.
 * The queue is unbounded: callers bound what they submit (e.g. pieces
 * being verified). Any thread. 0, -ENOMEM, or -ECANCELED while the pool is
 * being freed.
 */
int loop_pool_submit(struct loop_pool *pool, loop_work_fn work, loop_post_cb done, void *arg);
/*
 * Finishes every queued job, joins the workers and frees the pool. Call it
 * on the loop thread, before loop_free(). The done callbacks of finished
 * jobs are queued on the loop and run in its next iteration (run
 * loop_run_once(loop, 0) to flush them before loop_free()). NULL is a no-op.
 */
void loop_pool_free(struct loop_pool *pool);

#endif
