/*
 * Tests for loop: timer ordering, re-arming and deletion from callbacks,
 * fd readiness and deletion during dispatch, signals through the self-pipe,
 * cross-thread posts, the worker pool, and loop_run/loop_stop. Timing is
 * only checked with generous lower bounds; every wait has an iteration cap
 * so a broken loop fails instead of hanging.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

static struct loop *L;

static void
setup(void)
{
	L = loop_new();
	cr_assert_not_null(L);
}

static void
teardown(void)
{
	loop_free(L);
	L = NULL;
}

TestSuite(loop, .init = setup, .fini = teardown);

static uint64_t
real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Runs iterations until *flag reaches want; fails the test after ~10 s. */
static void
run_until(atomic_int *flag, int want)
{
	for (int i = 0; i < 10000 && atomic_load(flag) < want; i++)
		cr_assert_eq(loop_run_once(L, 1), 0);
	cr_assert_eq(atomic_load(flag), want);
}

/* ---- timers ---- */

static int order[32];
static atomic_int norder;

static void
record_timer(struct loop_timer *t, void *arg)
{
	order[atomic_fetch_add(&norder, 1)] = (int)(intptr_t)arg;
}

Test(loop, timers_fire_in_deadline_then_arming_order)
{
	/* id: delay; ids 1, 4, 6 tie at 10 ms and must keep arming order. */
	static const uint64_t delay[] = {30, 10, 0, 20, 10, 5, 10};
	static const int want[] = {2, 5, 1, 4, 6, 3, 0};
	struct loop_timer *t[7];

	for (int i = 0; i < 7; i++) {
		t[i] = loop_timer_new(L, record_timer, (void *)(intptr_t)i);
		cr_assert_not_null(t[i]);
		loop_timer_start(t[i], delay[i]);
		cr_assert(loop_timer_armed(t[i]));
	}
	run_until(&norder, 7);
	for (int i = 0; i < 7; i++) {
		cr_assert_eq(order[i], want[i], "position %d: got %d, want %d", i, order[i],
			     want[i]);
		cr_assert_not(loop_timer_armed(t[i]));
		loop_timer_free(t[i]);
	}
}

Test(loop, timer_waits_at_least_its_delay)
{
	struct loop_timer *t = loop_timer_new(L, record_timer, NULL);
	uint64_t t0 = real_ns();

	loop_update_time(L); /* the delay counts from the cached time, taken after t0 */
	loop_timer_start(t, 20);
	run_until(&norder, 1);
	cr_assert_geq(real_ns() - t0, 20000000u);
	cr_assert_geq(loop_now_ms(L), t0 / 1000000u + 20);
	loop_timer_free(t);
}

Test(loop, rearm_moves_the_timer)
{
	struct loop_timer *a = loop_timer_new(L, record_timer, (void *)1);
	struct loop_timer *b = loop_timer_new(L, record_timer, (void *)2);

	loop_timer_start(a, 5);
	loop_timer_start(b, 10);
	loop_timer_start(a, 40); /* now after b */
	run_until(&norder, 2);
	cr_assert_eq(order[0], 2);
	cr_assert_eq(order[1], 1);
	/* Stop then start again works, and stop of a disarmed timer is harmless. */
	loop_timer_stop(a);
	loop_timer_start(a, 0);
	loop_timer_stop(a);
	loop_timer_stop(a);
	cr_assert_not(loop_timer_armed(a));
	/* A huge delay saturates ("never") rather than wrapping into the past. */
	loop_timer_start(b, UINT64_MAX);
	cr_assert(loop_timer_armed(b));
	cr_assert_eq(loop_run_once(L, 20), 0);
	cr_assert_eq(atomic_load(&norder), 2);
	cr_assert(loop_timer_armed(b));
	loop_timer_free(a);
	loop_timer_free(b);
}

static struct loop_timer *victim;
static int self_fired;

static void
stop_victim(struct loop_timer *t, void *arg)
{
	order[atomic_fetch_add(&norder, 1)] = 1;
	loop_timer_stop(victim);
}

Test(loop, stop_another_due_timer_from_callback)
{
	struct loop_timer *a = loop_timer_new(L, stop_victim, NULL);

	victim = loop_timer_new(L, record_timer, (void *)2);
	/* Same deadline: a runs first and must keep victim from firing. */
	loop_timer_start(a, 5);
	loop_timer_start(victim, 5);
	run_until(&norder, 1);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(loop_run_once(L, 5), 0);
	cr_assert_eq(atomic_load(&norder), 1);
	cr_assert_not(loop_timer_armed(victim));
	loop_timer_free(a);
	loop_timer_free(victim);
}

static void
rearm_self(struct loop_timer *t, void *arg)
{
	self_fired++;
	if (self_fired < 3)
		loop_timer_start(t, 0);
	else
		loop_timer_free(t); /* freeing the running timer must be safe */
}

Test(loop, rearm_and_free_from_own_callback)
{
	struct loop_timer *t = loop_timer_new(L, rearm_self, NULL);

	loop_timer_start(t, 0);
	/* A delay-0 re-arm runs in the next iteration, not in the same one. */
	cr_assert_eq(loop_run_once(L, 0), 0);
	cr_assert_eq(self_fired, 1);
	cr_assert_eq(loop_run_once(L, 0), 0);
	cr_assert_eq(self_fired, 2);
	cr_assert_eq(loop_run_once(L, 0), 0);
	cr_assert_eq(self_fired, 3);
	cr_assert_eq(loop_run_once(L, 0), 0);
	cr_assert_eq(self_fired, 3);
}

enum { MANY = 500 };
static int fired[MANY];
static atomic_int nfired;

static void
record_many(struct loop_timer *t, void *arg)
{
	int n = atomic_fetch_add(&nfired, 1);

	cr_assert_lt(n, MANY);
	fired[n] = (int)(intptr_t)arg;
}

struct expect {
	uint64_t delay, seq;
	int id;
};

static int
cmp_expect(const void *a, const void *b)
{
	const struct expect *x = a, *y = b;

	if (x->delay != y->delay)
		return x->delay < y->delay ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

Test(loop, many_timers_fire_in_heap_order)
{
	static struct loop_timer *t[MANY];
	static struct expect want[MANY];
	uint64_t x = 12345, seq = 0;
	size_t nwant = 0;

	/*
	 * Deadlines collide a lot (0..9 ms) so ties and sifting both get
	 * exercised; every third timer is stopped and every fifth re-armed,
	 * which removes entries from the middle of the heap. All are armed
	 * against the same cached time, so the expected firing order is
	 * simply (delay, arming order).
	 */
	for (int i = 0; i < MANY; i++) {
		t[i] = loop_timer_new(L, record_many, (void *)(intptr_t)i);
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		want[i].delay = (x >> 33) % 10;
		want[i].seq = seq++;
		want[i].id = i;
		loop_timer_start(t[i], want[i].delay);
	}
	for (int i = 0; i < MANY; i += 3)
		loop_timer_stop(t[i]);
	for (int i = 0; i < MANY; i += 5) {
		loop_timer_start(t[i], 12);
		want[i].delay = 12;
		want[i].seq = seq++;
	}
	for (int i = 0; i < MANY; i++)
		if (i % 3 != 0 || i % 5 == 0)
			want[nwant++] = want[i];
	qsort(want, nwant, sizeof want[0], cmp_expect);
	run_until(&nfired, (int)nwant);
	for (size_t i = 0; i < nwant; i++)
		cr_assert_eq(fired[i], want[i].id, "position %zu: got %d, want %d", i, fired[i],
			     want[i].id);
	for (int i = 0; i < MANY; i++)
		loop_timer_free(t[i]);
}

Test(loop, timers_outlive_loop_free)
{
	struct loop_timer *t = loop_timer_new(L, record_timer, NULL);

	loop_timer_start(t, 1000);
	loop_free(L);
	L = NULL;
	cr_assert_not(loop_timer_armed(t));
	loop_timer_free(t);
	loop_timer_free(NULL);
}

/* ---- fds ---- */

struct io_state {
	int calls;
	short last;
	struct loop_io *other; /* deleted by this watcher's callback */
	bool del_self;
};

static void
io_cb(struct loop_io *io, int fd, short revents, void *arg)
{
	struct io_state *s = arg;
	char buf[64];

	s->calls++;
	s->last = revents;
	if (revents & POLLIN) {
		ssize_t r = read(fd, buf, sizeof buf);

		(void)r;
	}
	if (s->other != NULL) {
		loop_io_del(s->other);
		s->other = NULL;
	}
	if (s->del_self)
		loop_io_del(io);
}

Test(loop, io_readiness_and_events)
{
	int sv[2];
	struct io_state s = {0};
	struct loop_io *io;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	io = loop_io_add(L, sv[0], POLLIN, io_cb, &s);
	cr_assert_not_null(io);
	cr_assert_eq(loop_run_once(L, 0), 0);
	cr_assert_eq(s.calls, 0);
	cr_assert_eq(write(sv[1], "x", 1), 1);
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(s.calls, 1);
	cr_assert(s.last & POLLIN);

	/* POLLOUT only when asked for. */
	loop_io_set_events(io, POLLOUT);
	cr_assert_eq(loop_io_events(io), POLLOUT);
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(s.calls, 2);
	cr_assert_eq(s.last, POLLOUT);

	/* Events 0 pauses the watcher even after the peer hangs up. */
	loop_io_set_events(io, 0);
	close(sv[1]);
	cr_assert_eq(loop_run_once(L, 20), 0);
	cr_assert_eq(s.calls, 2);
	loop_io_set_events(io, POLLIN);
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(s.calls, 3);

	loop_io_del(io);
	cr_assert_eq(loop_run_once(L, 0), 0);
	cr_assert_eq(s.calls, 3);
	close(sv[0]);
	cr_assert_null(loop_io_add(L, -1, POLLIN, io_cb, &s));
	cr_assert_eq(errno, EINVAL);
}

Test(loop, delete_during_dispatch)
{
	int a[2], b[2], c[2];
	struct io_state sa = {0}, sb = {0}, sc = {0};
	struct loop_io *ia, *ib, *ic;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
	ia = loop_io_add(L, a[0], POLLIN, io_cb, &sa);
	ib = loop_io_add(L, b[0], POLLIN, io_cb, &sb);
	ic = loop_io_add(L, c[0], POLLIN, io_cb, &sc);
	cr_assert(ia && ib && ic);
	/* a deletes b (later in the same round, already ready); c deletes itself. */
	sa.other = ib;
	sc.del_self = true;
	cr_assert_eq(write(a[1], "x", 1), 1);
	cr_assert_eq(write(b[1], "x", 1), 1);
	cr_assert_eq(write(c[1], "xx", 2), 2);
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(sa.calls, 1);
	cr_assert_eq(sb.calls, 0, "deleted watcher was dispatched");
	cr_assert_eq(sc.calls, 1);
	/* c still has unread data, b too: neither may be called again. */
	cr_assert_eq(write(c[1], "x", 1), 1);
	cr_assert_eq(write(a[1], "x", 1), 1);
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(sa.calls, 2);
	cr_assert_eq(sb.calls, 0);
	cr_assert_eq(sc.calls, 1);
	loop_io_del(ia);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
		close(c[i]);
	}
}

/* An eager watcher is also called after each other watcher's callback. */
static int eager_order[16];
static int neager_order;

static void
eager_cb(struct loop_io *io, int fd, short revents, void *arg)
{
	(void)io, (void)fd, (void)revents;
	if (neager_order < 16)
		eager_order[neager_order++] = *(int *)arg;
}

static void
plain_cb(struct loop_io *io, int fd, short revents, void *arg)
{
	char buf[8];

	(void)io, (void)revents;
	cr_assert_gt(read(fd, buf, sizeof buf), 0);
	if (neager_order < 16)
		eager_order[neager_order++] = *(int *)arg;
}

Test(loop, eager_watcher_runs_between_others)
{
	int a[2], b[2], e[2], ida = 1, idb = 2, ide = 9;
	struct loop_io *ie;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, e), 0);
	cr_assert_not_null(loop_io_add(L, a[0], POLLIN, plain_cb, &ida));
	cr_assert_not_null(loop_io_add(L, b[0], POLLIN, plain_cb, &idb));
	cr_assert_not_null(ie = loop_io_add(L, e[0], POLLIN, eager_cb, &ide));
	loop_set_eager(L, ie);
	cr_assert_eq(write(a[1], "x", 1), 1);
	cr_assert_eq(write(b[1], "x", 1), 1);
	/* e is not readable: it is called anyway, once after a and once after b. */
	neager_order = 0;
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(neager_order, 4);
	cr_assert_eq(eager_order[0], 1);
	cr_assert_eq(eager_order[1], 9);
	cr_assert_eq(eager_order[2], 2);
	cr_assert_eq(eager_order[3], 9);
	/* Paused (no POLLIN), then deleted: never called between others. */
	loop_io_set_events(ie, 0);
	cr_assert_eq(write(a[1], "x", 1), 1);
	neager_order = 0;
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(neager_order, 1);
	loop_io_set_events(ie, POLLIN);
	loop_io_del(ie);
	cr_assert_eq(write(b[1], "x", 1), 1);
	neager_order = 0;
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(neager_order, 1);
	cr_assert_eq(eager_order[0], 2);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
		close(e[i]);
	}
}

static struct loop_io *added_in_cb;
static struct io_state added_state;

static void
add_on_ready(struct loop_io *io, int fd, short revents, void *arg)
{
	int *calls = arg;

	(*calls)++;
	if (added_in_cb == NULL)
		added_in_cb = loop_io_add(L, fd, POLLOUT, io_cb, &added_state);
}

Test(loop, watcher_added_in_callback_waits_a_round)
{
	int sv[2], calls = 0;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Plenty of watchers so that adding one from a callback reallocates. */
	struct io_state st[20] = {0};
	for (int i = 0; i < 20; i++)
		cr_assert_not_null(loop_io_add(L, sv[1], 0, io_cb, &st[i]));
	cr_assert_not_null(loop_io_add(L, sv[0], POLLOUT, add_on_ready, &calls));
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(calls, 1);
	cr_assert_not_null(added_in_cb);
	cr_assert_eq(added_state.calls, 0);
	cr_assert_eq(loop_run_once(L, 1000), 0);
	cr_assert_eq(added_state.calls, 1);
	close(sv[0]);
	close(sv[1]);
}

/* ---- signals ---- */

static atomic_int nsig;
static int sig_seen;

static void
on_signal(struct loop *loop, int signo, void *arg)
{
	sig_seen = signo;
	atomic_fetch_add(&nsig, 1);
	cr_assert_eq(loop, L);
}

Test(loop, signal_reaches_callback_on_loop)
{
	struct loop *other;

	cr_assert_eq(loop_signal(L, SIGUSR1, on_signal, NULL), 0);
	cr_assert_eq(raise(SIGUSR1), 0);
	/* The handler ran inside raise(); the callback waits for the loop. */
	cr_assert_eq(atomic_load(&nsig), 0);
	run_until(&nsig, 1);
	cr_assert_eq(sig_seen, SIGUSR1);
	/* Two deliveries before the loop wakes are both reported. */
	raise(SIGUSR1);
	raise(SIGUSR1);
	run_until(&nsig, 3);

	other = loop_new();
	cr_assert_not_null(other);
	cr_assert_eq(loop_signal(other, SIGUSR1, on_signal, NULL), -EBUSY);
	cr_assert_eq(loop_signal(L, 0, on_signal, NULL), -EINVAL);
	cr_assert_eq(loop_signal(L, LOOP_MAX_SIGNAL, on_signal, NULL), -EINVAL);
	/* Unregistering restores the old disposition and frees the signal. */
	cr_assert_eq(loop_signal(L, SIGUSR1, NULL, NULL), 0);
	cr_assert_eq(loop_signal(other, SIGUSR1, on_signal, NULL), 0);
	loop_free(other);
	/* Back to the default after both loops let go. */
	struct sigaction sa;
	cr_assert_eq(sigaction(SIGUSR1, NULL, &sa), 0);
	cr_assert_eq(sa.sa_handler, SIG_DFL);
}

Test(loop, sigpipe_is_ignored)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	cr_assert_eq(write(sv[0], "x", 1), -1);
	cr_assert_eq(errno, EPIPE);
	close(sv[0]);
}

/* ---- posts and the pool ---- */

enum { POSTERS = 4, PER_POSTER = 1000 };
static int last_seq[POSTERS];
static atomic_int nposts;
static bool post_misordered;
static pthread_t loop_thread;

static void
on_post(void *arg)
{
	intptr_t v = (intptr_t)arg;
	int who = (int)(v / PER_POSTER), seq = (int)(v % PER_POSTER);

	if (!pthread_equal(pthread_self(), loop_thread) || seq != last_seq[who] + 1)
		post_misordered = true;
	last_seq[who] = seq;
	atomic_fetch_add(&nposts, 1);
}

static void *
poster(void *arg)
{
	intptr_t who = (intptr_t)arg;

	for (int i = 0; i < PER_POSTER; i++)
		if (loop_post(L, on_post, (void *)(who * PER_POSTER + i)) != 0)
			post_misordered = true;
	return NULL;
}

Test(loop, posts_from_threads_arrive_in_order)
{
	pthread_t th[POSTERS];

	loop_thread = pthread_self();
	for (int i = 0; i < POSTERS; i++)
		last_seq[i] = -1;
	for (intptr_t i = 0; i < POSTERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, poster, (void *)i), 0);
	run_until(&nposts, POSTERS * PER_POSTER);
	for (int i = 0; i < POSTERS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(loop_run_once(L, 0), 0);
	cr_assert_eq(atomic_load(&nposts), POSTERS * PER_POSTER);
	cr_assert_not(post_misordered);
	for (int i = 0; i < POSTERS; i++)
		cr_assert_eq(last_seq[i], PER_POSTER - 1);
	cr_assert_eq(loop_post(L, NULL, NULL), -EINVAL);
}

struct job_arg {
	uint64_t n, result;
	bool worked_off_loop, done_on_loop;
};

static atomic_int ndone;

static void
job_work(void *arg)
{
	struct job_arg *j = arg;
	uint64_t s = 0;

	for (uint64_t i = 1; i <= j->n; i++)
		s += i;
	j->result = s;
	j->worked_off_loop = !pthread_equal(pthread_self(), loop_thread);
}

static void
job_done(void *arg)
{
	struct job_arg *j = arg;

	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
	atomic_fetch_add(&ndone, 1);
}

Test(loop, pool_runs_work_then_done_on_loop)
{
	enum { JOBS = 200 };
	static struct job_arg jobs[JOBS];
	struct loop_pool *pool;

	loop_thread = pthread_self();
	cr_assert_null(loop_pool_new(L, 0));
	pool = loop_pool_new(L, 4);
	cr_assert_not_null(pool);
	for (int i = 0; i < JOBS; i++) {
		jobs[i].n = 1000 + (uint64_t)i;
		cr_assert_eq(loop_pool_submit(pool, job_work, job_done, &jobs[i]), 0);
	}
	run_until(&ndone, JOBS);
	for (int i = 0; i < JOBS; i++) {
		cr_assert_eq(jobs[i].result, jobs[i].n * (jobs[i].n + 1) / 2);
		cr_assert(jobs[i].worked_off_loop);
		cr_assert(jobs[i].done_on_loop);
	}
	loop_pool_free(pool);
}

Test(loop, pool_free_finishes_queued_work)
{
	enum { JOBS = 50 };
	static struct job_arg jobs[JOBS];
	struct loop_pool *pool = loop_pool_new(L, 2);

	loop_thread = pthread_self();
	for (int i = 0; i < JOBS; i++) {
		jobs[i].n = 100000;
		/* Half without a done callback. */
		cr_assert_eq(loop_pool_submit(pool, job_work, i % 2 ? job_done : NULL, &jobs[i]),
			     0);
	}
	loop_pool_free(pool);
	for (int i = 0; i < JOBS; i++)
		cr_assert_eq(jobs[i].result, 100000ull * 100001 / 2);
	/* The done callbacks are queued on the loop and run in its next iteration. */
	cr_assert_eq(atomic_load(&ndone), 0);
	cr_assert_eq(loop_run_once(L, 0), 0);
	cr_assert_eq(atomic_load(&ndone), JOBS / 2);
}

/* ---- run / stop ---- */

static void
stop_loop(struct loop_timer *t, void *arg)
{
	int *ticks = arg;

	if (++*ticks == 3)
		loop_stop(L);
	else
		loop_timer_start(t, 1);
}

static void
stop_from_post(void *arg)
{
	loop_stop(L);
}

static void *
post_stop_later(void *arg)
{
	usleep(10000);
	loop_post(L, stop_from_post, NULL);
	return NULL;
}

Test(loop, run_until_stopped)
{
	int ticks = 0;
	struct loop_timer *t = loop_timer_new(L, stop_loop, &ticks);
	pthread_t th;

	loop_timer_start(t, 1);
	cr_assert_eq(loop_run(L), 0);
	cr_assert_eq(ticks, 3);
	cr_assert_not(loop_timer_armed(t));
	loop_timer_free(t);

	/* With nothing else to wait for, a post from another thread ends the run. */
	cr_assert_eq(pthread_create(&th, NULL, post_stop_later, NULL), 0);
	cr_assert_eq(loop_run(L), 0);
	pthread_join(th, NULL);
}
