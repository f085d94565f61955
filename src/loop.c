/*
 * loop: one poll() loop with fd watchers, a timer heap, signals through a
 * self-pipe, cross-thread posts and a worker pool.
 *
 * An iteration: refresh the clock, work out how long poll() may sleep (the
 * nearest timer, capped by the caller), build the pollfd array, poll, take
 * the time once more (the "now" every callback of this round sees), then
 * dispatch: the wake pipe first (signals, then posted callbacks), then the
 * ready fds in registration order, then the due timers. Deleted watchers
 * are reaped only once no callback can be running.
 *
 * poll() rather than epoll/kqueue: it is POSIX, needs no per-fd kernel
 * registration to keep in sync, and at the few hundred fds a BitTorrent
 * client uses its O(n) scan costs less than the work done per ready fd.
 *
 * The pollfd array mirrors the watcher array one to one (a dead or paused
 * watcher gets fd -1, which poll() ignores), so no index map is needed and
 * a watcher added during dispatch simply lies past the polled range.
 *
 * A single wake pipe serves both signals and posts. A signal handler may
 * only call async-signal-safe functions, so it bumps a lock-free per-signal
 * counter and writes a byte; posts hold a mutex-protected FIFO and write a
 * byte only when the queue goes from "no wake-up pending" to pending, so
 * the pipe never fills with post bytes and a signal's byte always fits (and
 * even if one did not, the pipe would already be readable).
 */
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000u
#define NOT_ARMED SIZE_MAX

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "signal handlers need lock-free atomic int");

struct loop_io {
	struct loop *loop;
	int fd;
	short events;
	bool dead;
	loop_io_cb cb;
	void *arg;
};

struct loop_timer {
	struct loop *loop; /* NULL once the loop is freed */
	loop_timer_cb cb;
	void *arg;
	uint64_t deadline_ns;
	uint64_t seq;			/* arming order, breaks deadline ties */
	size_t slot;			/* index in the heap, or NOT_ARMED */
	struct loop_timer *prev, *next; /* every timer of the loop, for loop_free() */
};

/* A queued cross-thread callback. Pool jobs embed one as their first member. */
struct post {
	struct post *next;
	loop_post_cb cb;
	void *arg;
};

struct signal_slot {
	bool active;
	loop_signal_cb cb;
	void *arg;
	struct sigaction old;
};

struct loop {
	uint64_t now_ns;
	bool stopping;

	struct loop_io **ios;
	size_t nios, cap_ios, ndead;
	struct loop_io *eager; /* see loop_set_eager() */
	struct pollfd *pfds;   /* capacity >= nios + 1, so polling never allocates */
	size_t cap_pfds;

	struct loop_timer **heap; /* capacity >= ntimers, so arming never allocates */
	size_t nheap, cap_heap, ntimers;
	uint64_t timer_seq;
	struct loop_timer *timers;

	int wake_rd, wake_wr;

	pthread_mutex_t post_lock;
	struct post *post_head, *post_tail;
	bool wake_pending; /* a post's wake byte is in the pipe, unread */

	struct signal_slot sig[LOOP_MAX_SIGNAL];
};

/*
 * Process-wide signal state, shared with the handler: the wake pipe's
 * write end (+1, so the zero default means "no loop") and the deliveries
 * not yet seen by the loop. signal_lock serializes loop_signal() calls
 * from loops on different threads.
 */
static atomic_int signal_wfd[LOOP_MAX_SIGNAL];
static atomic_uint signal_count[LOOP_MAX_SIGNAL];
static pthread_mutex_t signal_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Grows an array to hold at least `need` elements; NULL (old array kept) on failure. */
static void *
grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 8;
	void *np;

	if (need <= *cap)
		return p;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / size)
		return NULL;
	np = realloc(p, ncap * size);
	if (np != NULL)
		*cap = ncap;
	return np;
}

static int
set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static void
wake(struct loop *loop)
{
	uint8_t b = 0;
	ssize_t r = write(loop->wake_wr, &b, 1);

	/* EAGAIN means the pipe is full, hence already readable: nothing is lost. */
	(void)r;
}

static void
signal_handler(int signo)
{
	int saved = errno;
	int wfd;

	if (signo > 0 && signo < LOOP_MAX_SIGNAL) {
		atomic_fetch_add(&signal_count[signo], 1);
		wfd = atomic_load(&signal_wfd[signo]);
		if (wfd > 0) {
			uint8_t b = (uint8_t)signo;
			ssize_t r = write(wfd - 1, &b, 1);

			(void)r;
		}
	}
	errno = saved;
}

struct loop *
loop_new(void)
{
	struct loop *loop;
	int fds[2], rc;

	loop = calloc(1, sizeof *loop);
	if (loop == NULL)
		return NULL;
	loop->wake_rd = loop->wake_wr = -1;
	rc = -pthread_mutex_init(&loop->post_lock, NULL);
	if (rc < 0) {
		free(loop);
		errno = -rc;
		return NULL;
	}
	if (pipe(fds) < 0) {
		rc = -errno;
		goto fail;
	}
	loop->wake_rd = fds[0];
	loop->wake_wr = fds[1];
	if ((rc = set_nonblock_cloexec(fds[0])) < 0 || (rc = set_nonblock_cloexec(fds[1])) < 0)
		goto fail;
	loop->pfds = grow(NULL, &loop->cap_pfds, 1, sizeof *loop->pfds);
	if (loop->pfds == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	signal(SIGPIPE, SIG_IGN);
	loop_update_time(loop);
	return loop;

fail:
	loop_free(loop);
	errno = -rc;
	return NULL;
}

/* Caller holds signal_lock. */
static void
signal_release(struct loop *loop, int signo)
{
	struct signal_slot *s = &loop->sig[signo];

	sigaction(signo, &s->old, NULL);
	atomic_store(&signal_wfd[signo], 0);
	memset(s, 0, sizeof *s);
}

void
loop_free(struct loop *loop)
{
	struct loop_timer *t;
	struct post *p, *next;
	size_t i;

	if (loop == NULL)
		return;
	pthread_mutex_lock(&signal_lock);
	for (i = 1; i < LOOP_MAX_SIGNAL; i++)
		if (loop->sig[i].active)
			signal_release(loop, (int)i);
	pthread_mutex_unlock(&signal_lock);

	for (i = 0; i < loop->nios; i++)
		free(loop->ios[i]);
	free(loop->ios);
	free(loop->pfds);

	for (t = loop->timers; t != NULL; t = t->next) {
		t->loop = NULL;
		t->slot = NOT_ARMED;
	}
	free(loop->heap);

	for (p = loop->post_head; p != NULL; p = next) {
		next = p->next;
		free(p);
	}
	if (loop->wake_rd >= 0)
		close(loop->wake_rd);
	if (loop->wake_wr >= 0)
		close(loop->wake_wr);
	pthread_mutex_destroy(&loop->post_lock);
	free(loop);
}

uint64_t
loop_now_ms(const struct loop *loop)
{
	return loop->now_ns / NS_PER_MS;
}

void
loop_update_time(struct loop *loop)
{
	loop->now_ns = mono_ns();
}

void
loop_stop(struct loop *loop)
{
	loop->stopping = true;
}

/* ---- fd watchers ---- */

struct loop_io *
loop_io_add(struct loop *loop, int fd, short events, loop_io_cb cb, void *arg)
{
	struct loop_io *io;
	void *p;

	if (fd < 0 || cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	p = grow(loop->ios, &loop->cap_ios, loop->nios + 1, sizeof *loop->ios);
	if (p == NULL)
		goto nomem;
	loop->ios = p;
	/* Reallocating during dispatch is fine: revents are copied along. */
	p = grow(loop->pfds, &loop->cap_pfds, loop->nios + 2, sizeof *loop->pfds);
	if (p == NULL)
		goto nomem;
	loop->pfds = p;
	io = calloc(1, sizeof *io);
	if (io == NULL)
		goto nomem;
	io->loop = loop;
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->arg = arg;
	loop->ios[loop->nios++] = io;
	return io;

nomem:
	errno = ENOMEM;
	return NULL;
}

void
loop_io_set_events(struct loop_io *io, short events)
{
	io->events = events;
}

short
loop_io_events(const struct loop_io *io)
{
	return io->events;
}

void
loop_io_del(struct loop_io *io)
{
	if (io == NULL || io->dead)
		return;
	io->dead = true;
	io->loop->ndead++;
	if (io->loop->eager == io)
		io->loop->eager = NULL;
}

void
loop_set_eager(struct loop *loop, struct loop_io *io)
{
	loop->eager = io != NULL && !io->dead ? io : NULL;
}

/* Frees dead watchers. Only called when no io callback is on the stack. */
static void
reap(struct loop *loop)
{
	size_t i, j = 0;

	if (loop->ndead == 0)
		return;
	for (i = 0; i < loop->nios; i++) {
		if (loop->ios[i]->dead)
			free(loop->ios[i]);
		else
			loop->ios[j++] = loop->ios[i];
	}
	loop->nios = j;
	loop->ndead = 0;
}

/* ---- timers: a binary min-heap ordered by (deadline, arming order) ---- */

static bool
timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->deadline_ns < b->deadline_ns ||
	       (a->deadline_ns == b->deadline_ns && a->seq < b->seq);
}

static void
heap_place(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->slot = i;
}

static void
heap_sift_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_place(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_place(loop, i, t);
}

static void
heap_sift_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= loop->nheap)
			break;
		if (c + 1 < loop->nheap && timer_before(loop->heap[c + 1], loop->heap[c]))
			c++;
		if (!timer_before(loop->heap[c], t))
			break;
		heap_place(loop, i, loop->heap[c]);
		i = c;
	}
	heap_place(loop, i, t);
}

static void
heap_remove(struct loop *loop, struct loop_timer *t)
{
	size_t i = t->slot;
	struct loop_timer *last = loop->heap[--loop->nheap];

	t->slot = NOT_ARMED;
	if (last == t)
		return;
	heap_place(loop, i, last);
	if (i > 0 && timer_before(last, loop->heap[(i - 1) / 2]))
		heap_sift_up(loop, i);
	else
		heap_sift_down(loop, i);
}

struct loop_timer *
loop_timer_new(struct loop *loop, loop_timer_cb cb, void *arg)
{
	struct loop_timer *t;
	void *p;

	if (cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	p = grow(loop->heap, &loop->cap_heap, loop->ntimers + 1, sizeof *loop->heap);
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	loop->heap = p;
	t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	t->slot = NOT_ARMED;
	t->next = loop->timers;
	if (t->next != NULL)
		t->next->prev = t;
	loop->timers = t;
	loop->ntimers++;
	return t;
}

void
loop_timer_start(struct loop_timer *t, uint64_t delay_ms)
{
	struct loop *loop = t->loop;
	uint64_t now;

	if (loop == NULL)
		return;
	if (t->slot != NOT_ARMED)
		heap_remove(loop, t);
	now = loop->now_ns;
	/* Saturate: a huge delay means "never", not a wrapped-around "soon". */
	if (delay_ms > (UINT64_MAX - now) / NS_PER_MS)
		t->deadline_ns = UINT64_MAX;
	else
		t->deadline_ns = now + delay_ms * NS_PER_MS;
	t->seq = loop->timer_seq++;
	loop->heap[loop->nheap] = t;
	heap_sift_up(loop, loop->nheap++);
}

void
loop_timer_stop(struct loop_timer *t)
{
	if (t->loop != NULL && t->slot != NOT_ARMED)
		heap_remove(t->loop, t);
}

bool
loop_timer_armed(const struct loop_timer *t)
{
	return t->slot != NOT_ARMED;
}

void
loop_timer_free(struct loop_timer *t)
{
	struct loop *loop;

	if (t == NULL)
		return;
	loop = t->loop;
	if (loop != NULL) {
		loop_timer_stop(t);
		if (t->prev != NULL)
			t->prev->next = t->next;
		else
			loop->timers = t->next;
		if (t->next != NULL)
			t->next->prev = t->prev;
		loop->ntimers--;
	}
	free(t);
}

/*
 * Fires due timers. Only timers armed before this call fire: one that
 * re-arms itself with delay 0 waits for the next iteration instead of
 * spinning here. Heap order makes checking the top enough: an old due
 * timer always sorts before a timer armed during this pass.
 */
static void
run_timers(struct loop *loop)
{
	uint64_t limit = loop->timer_seq;

	while (loop->nheap > 0) {
		struct loop_timer *t = loop->heap[0];

		if (t->deadline_ns > loop->now_ns || t->seq >= limit)
			break;
		/* Unlinked before the call, so the callback may re-arm or free it. */
		heap_remove(loop, t);
		t->cb(t, t->arg);
	}
}

static int
poll_timeout(struct loop *loop, int max_wait_ms)
{
	uint64_t deadline, wait_ns, wait_ms;

	if (loop->nheap == 0)
		return max_wait_ms < 0 ? -1 : max_wait_ms;
	deadline = loop->heap[0]->deadline_ns;
	if (deadline <= loop->now_ns)
		return 0;
	/* Round up, or we would wake just before the deadline and poll again. */
	wait_ns = deadline - loop->now_ns;
	wait_ms = wait_ns / NS_PER_MS + (wait_ns % NS_PER_MS != 0);
	if (max_wait_ms >= 0 && (uint64_t)max_wait_ms < wait_ms)
		return max_wait_ms;
	return wait_ms > INT_MAX ? INT_MAX : (int)wait_ms;
}

/* ---- signals and posts ---- */

int
loop_signal(struct loop *loop, int signo, loop_signal_cb cb, void *arg)
{
	struct signal_slot *s;
	struct sigaction sa;
	int rc = 0;

	if (signo <= 0 || signo >= LOOP_MAX_SIGNAL)
		return -EINVAL;
	s = &loop->sig[signo];
	pthread_mutex_lock(&signal_lock);
	if (cb == NULL) {
		if (s->active)
			signal_release(loop, signo);
		goto out;
	}
	if (!s->active) {
		if (atomic_load(&signal_wfd[signo]) != 0) {
			rc = -EBUSY;
			goto out;
		}
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = signal_handler;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		atomic_store(&signal_count[signo], 0);
		atomic_store(&signal_wfd[signo], loop->wake_wr + 1);
		if (sigaction(signo, &sa, &s->old) < 0) {
			rc = -errno;
			atomic_store(&signal_wfd[signo], 0);
			goto out;
		}
		s->active = true;
	}
	s->cb = cb;
	s->arg = arg;
out:
	pthread_mutex_unlock(&signal_lock);
	return rc;
}

static void
post_enqueue(struct loop *loop, struct post *p)
{
	bool need_wake;

	p->next = NULL;
	pthread_mutex_lock(&loop->post_lock);
	if (loop->post_tail != NULL)
		loop->post_tail->next = p;
	else
		loop->post_head = p;
	loop->post_tail = p;
	need_wake = !loop->wake_pending;
	loop->wake_pending = true;
	pthread_mutex_unlock(&loop->post_lock);
	/*
	 * Writing after unlocking is safe: the loop drains the pipe before it
	 * takes the queue, so at worst it sees our item early and our byte
	 * causes one spurious wake-up.
	 */
	if (need_wake)
		wake(loop);
}

int
loop_post(struct loop *loop, loop_post_cb cb, void *arg)
{
	struct post *p;

	if (cb == NULL)
		return -EINVAL;
	p = malloc(sizeof *p);
	if (p == NULL)
		return -ENOMEM;
	p->cb = cb;
	p->arg = arg;
	post_enqueue(loop, p);
	return 0;
}

static void
run_posts(struct loop *loop)
{
	struct post *p, *next;

	/* Take the whole queue at once: posts made by these callbacks wait a round. */
	pthread_mutex_lock(&loop->post_lock);
	p = loop->post_head;
	loop->post_head = loop->post_tail = NULL;
	loop->wake_pending = false;
	pthread_mutex_unlock(&loop->post_lock);
	for (; p != NULL; p = next) {
		loop_post_cb cb = p->cb;
		void *arg = p->arg;

		next = p->next;
		free(p);
		cb(arg);
	}
}

static void
handle_wake(struct loop *loop)
{
	uint8_t junk[256];
	int signo;

	/* Drain first, then look at counters and the queue (see post_enqueue). */
	while (read(loop->wake_rd, junk, sizeof junk) > 0)
		continue;
	for (signo = 1; signo < LOOP_MAX_SIGNAL; signo++) {
		struct signal_slot *s = &loop->sig[signo];
		unsigned n;

		if (!s->active)
			continue;
		n = atomic_exchange(&signal_count[signo], 0);
		/* The callback may unregister the signal; stop calling it then. */
		while (n-- > 0 && s->active)
			s->cb(loop, signo, s->arg);
	}
	run_posts(loop);
}

/* ---- the loop itself ---- */

int
loop_run_once(struct loop *loop, int max_wait_ms)
{
	size_t i, n;
	int rc;

	reap(loop);
	loop_update_time(loop);
	n = loop->nios;
	for (i = 0; i < n; i++) {
		struct loop_io *io = loop->ios[i];

		/* Paused watchers get fd -1 too: poll() would report POLLHUP regardless. */
		loop->pfds[i].fd = io->events == 0 ? -1 : io->fd;
		loop->pfds[i].events = io->events;
		loop->pfds[i].revents = 0;
	}
	loop->pfds[n].fd = loop->wake_rd;
	loop->pfds[n].events = POLLIN;
	loop->pfds[n].revents = 0;

	rc = poll(loop->pfds, (nfds_t)n + 1, poll_timeout(loop, max_wait_ms));
	if (rc < 0 && errno != EINTR)
		return -errno;
	loop_update_time(loop);

	if (rc > 0) {
		if (loop->pfds[n].revents != 0)
			handle_wake(loop);
		/* Watchers added by callbacks lie past n and wait for the next round. */
		for (i = 0; i < n; i++) {
			struct loop_io *io = loop->ios[i];
			short revents = loop->pfds[i].revents;

			if (revents == 0 || io->dead)
				continue;
			io->cb(io, io->fd, revents, io->arg);
			if (loop->eager != NULL && loop->eager != io &&
			    (loop->eager->events & POLLIN))
				loop->eager->cb(loop->eager, loop->eager->fd, POLLIN,
						loop->eager->arg);
		}
	}
	run_timers(loop);
	reap(loop);
	return 0;
}

int
loop_run(struct loop *loop)
{
	int rc = 0;

	while (!loop->stopping && rc == 0)
		rc = loop_run_once(loop, -1);
	loop->stopping = false;
	return rc;
}

/* ---- worker pool ---- */

struct job {
	struct post post; /* first: handed to post_enqueue() as is once work is done */
	loop_work_fn work;
};

struct loop_pool {
	struct loop *loop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct post *head, *tail; /* queued jobs, linked through post.next */
	bool stopping;
	unsigned nthreads;
	pthread_t threads[LOOP_POOL_MAX_THREADS];
};

static void *
pool_worker(void *arg)
{
	struct loop_pool *pool = arg;
	struct job *job;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (pool->head == NULL && !pool->stopping)
			pthread_cond_wait(&pool->cond, &pool->lock);
		if (pool->head == NULL)
			break; /* stopping and drained */
		job = (struct job *)pool->head;
		pool->head = job->post.next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->lock);

		job->work(job->post.arg);
		/* The job's memory becomes the post: reporting back cannot fail. */
		if (job->post.cb != NULL)
			post_enqueue(pool->loop, &job->post);
		else
			free(job);

		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

/* Stops and joins the first n workers. */
static void
pool_join(struct loop_pool *pool, unsigned n)
{
	unsigned i;

	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < n; i++)
		pthread_join(pool->threads[i], NULL);
}

struct loop_pool *
loop_pool_new(struct loop *loop, unsigned nthreads)
{
	struct loop_pool *pool;
	sigset_t all, old;
	int rc;

	if (nthreads == 0 || nthreads > LOOP_POOL_MAX_THREADS) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, sizeof *pool);
	if (pool == NULL)
		return NULL;
	pool->loop = loop;
	if ((rc = pthread_mutex_init(&pool->lock, NULL)) != 0) {
		free(pool);
		errno = rc;
		return NULL;
	}
	if ((rc = pthread_cond_init(&pool->cond, NULL)) != 0) {
		pthread_mutex_destroy(&pool->lock);
		free(pool);
		errno = rc;
		return NULL;
	}
	/* Threads inherit the creator's mask: block everything while creating them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (pool->nthreads = 0; pool->nthreads < nthreads; pool->nthreads++) {
		rc = pthread_create(&pool->threads[pool->nthreads], NULL, pool_worker, pool);
		if (rc != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		loop_pool_free(pool);
		errno = rc;
		return NULL;
	}
	return pool;
}

int
loop_pool_submit(struct loop_pool *pool, loop_work_fn work, loop_post_cb done, void *arg)
{
	struct job *job;
	int rc = 0;

	if (work == NULL)
		return -EINVAL;
	job = calloc(1, sizeof *job);
	if (job == NULL)
		return -ENOMEM;
	job->work = work;
	job->post.cb = done;
	job->post.arg = arg;
	pthread_mutex_lock(&pool->lock);
	if (pool->stopping) {
		rc = -ECANCELED;
		free(job);
		goto out;
	}
	if (pool->tail != NULL)
		pool->tail->next = &job->post;
	else
		pool->head = &job->post;
	pool->tail = &job->post;
	pthread_cond_signal(&pool->cond);
out:
	pthread_mutex_unlock(&pool->lock);
	return rc;
}

void
loop_pool_free(struct loop_pool *pool)
{
	if (pool == NULL)
		return;
	/* Workers exit only once the queue is empty, so every job has run. */
	pool_join(pool, pool->nthreads);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}
