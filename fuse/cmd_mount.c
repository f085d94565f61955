/*
 * cmd_mount: `pieces mount FILE.torrent MOUNTPOINT`. Shows the torrent's
 * files under MOUNTPOINT at once and runs the engine behind them in one
 * process, on one loop: reads steer the download (fs.c, stream.c), the rest
 * downloads in the background (or not, with --on-demand), and everything
 * verified is seeded while mounted.
 *
 * Data lives in a cache folder (by default $XDG_CACHE_HOME/pieces/<hash>/:
 * data/, resume, torrent, log, lock), so a later mount serves what was
 * fetched at once, with no peers. A lock file keeps two processes off one
 * cache.
 *
 * Like other FUSE filesystems it goes to the background once the mount is
 * up; unlike libfuse's fuse_daemonize(), the parent waits until the child
 * has mounted *and* started the engine, so every start-up error still
 * reaches the terminal and the exit status. The fork happens before any
 * thread exists (the engine's worker pool, libcurl), which is why the child
 * and not the parent builds the engine.
 *
 * The end: fusermount3 -u / umount (the session reports ENODEV), or
 * SIGINT/SIGTERM/SIGHUP (we unmount ourselves, lazily). Either way parked
 * reads are answered, torrent_stop() tells the trackers and saves resume
 * data, and the process exits 0.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_mount.h"
#include "fs.h"
#include "http.h"
#include "loop.h"
#include "metainfo.h"
#include "textenc.h"
#include "torrent.h"

#define MAX_FUSE_OPTS 32

struct mnt {
	struct loop *loop;
	struct torrent *t;
	struct fs *fs;
	const struct metainfo *mi;
	const char *mountpoint;
	int verbosity; /* 0 quiet, 1 normal, 2 verbose */
	int background;
	int leaving; /* unmount and stop are under way */
	int failed;
	char fatal[256];
};

static void
mount_usage(FILE *f)
{
	fputs("usage: pieces mount [OPTIONS] FILE.torrent MOUNTPOINT\n"
	      "\n"
	      "Shows the torrent's files under MOUNTPOINT at once; what is read is fetched\n"
	      "first, the rest downloads in the background, and everything fetched is\n"
	      "kept in a cache and seeded. Unmount with 'fusermount3 -u MOUNTPOINT'\n"
	      "(or Ctrl-C with -f).\n"
	      "  -f, --foreground     stay in the foreground, log to stderr\n"
	      "  -o OPTIONS           FUSE mount options, e.g. allow_other (repeatable)\n"
	      "      --cache DIR      cache folder (default $XDG_CACHE_HOME/pieces/INFO-HASH)\n"
	      "      --on-demand      fetch only what is read (and read ahead)\n"
	      "      --peer HOST:PORT connect to this peer too (repeatable)\n"
	      "  -p, --port N         listen port (default 6881; 0 = any)\n"
	      "      --bind ADDR      use only this local address (default: all)\n"
	      "      --max-peers N    connections at most (default 50)\n"
	      "      --max-down RATE  download limit, e.g. 500K or 2M (bytes/s)\n"
	      "      --max-up RATE    upload limit\n"
	      "  -d, --debug          show every FUSE request (implies -f)\n"
	      "  -v, --verbose        log peers and trackers\n"
	      "  -q, --quiet          only errors\n",
	      f);
}

/* ---- engine and filesystem callbacks ---------------------------------------- */

static void
mlog(struct mnt *m, enum torrent_log_level level, const char *msg)
{
	if (level == TORRENT_LOG_DEBUG && m->verbosity < 2)
		return;
	if ((level == TORRENT_LOG_INFO || level == TORRENT_LOG_WARNING) && m->verbosity < 1)
		return;
	if (m->background) {
		/* The log file outlives the terminal: say when. */
		char when[32];
		time_t now = time(NULL);
		struct tm tm;

		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S ", localtime_r(&now, &tm));
		fputs(when, stderr);
	}
	fprintf(stderr, "pieces: %s%s\n",
		level == TORRENT_LOG_WARNING ? "warning: "
		: level == TORRENT_LOG_ERROR ? "error: "
					     : "",
		msg);
}

static void
on_log(void *arg, enum torrent_log_level level, const char *msg)
{
	mlog(arg, level, msg);
}

static void
on_checked(void *arg, uint32_t have, uint32_t total)
{
	struct mnt *m = arg;
	char msg[128];

	snprintf(msg, sizeof msg, "%u of %u pieces are in the cache", have, total);
	mlog(m, TORRENT_LOG_INFO, msg);
}

static void
on_complete(void *arg)
{
	/* Stay mounted and keep seeding. */
	mlog(arg, TORRENT_LOG_INFO, "download complete; seeding");
}

static void
on_stopped(void *arg)
{
	struct mnt *m = arg;

	loop_stop(m->loop);
}

/* Unmounts (if the kernel has not already) and stops the engine: the way out. */
static void
leave(struct mnt *m)
{
	if (m->leaving)
		return;
	m->leaving = 1;
	if (m->fs != NULL)
		fs_unmount(m->fs);
	torrent_stop(m->t);
}

static void
on_fatal(void *arg, const char *msg)
{
	struct mnt *m = arg;

	snprintf(m->fatal, sizeof m->fatal, "%s", msg);
	m->failed = 1;
	mlog(m, TORRENT_LOG_ERROR, msg);
	leave(m);
}

/*
 * The cache's disk is full (or failing): unlike `pieces download`, the
 * mount stays up, since what is verified still reads and seeds; reads of
 * missing data fail until the engine tries again.
 */
static void
on_disk_error(void *arg, int err, uint64_t pause_ms, const char *msg)
{
	struct mnt *m = arg;
	char line[320];

	snprintf(line, sizeof line,
		 "%s; downloading paused for %llu s (verified data still reads; reads of "
		 "missing data fail meanwhile)",
		 msg, (unsigned long long)(pause_ms / 1000));
	mlog(m, TORRENT_LOG_ERROR, line);
	if (m->fs != NULL)
		fs_disk_error(m->fs, err);
}

static void
on_verified(void *arg, uint32_t piece)
{
	struct mnt *m = arg;

	if (m->fs != NULL)
		fs_piece_verified(m->fs, piece);
}

static void
on_unmounted(void *arg)
{
	struct mnt *m = arg;

	mlog(m, TORRENT_LOG_INFO, "unmounted; saving resume data");
	leave(m);
}

static void
on_signal(struct loop *loop, int signo, void *arg)
{
	struct mnt *m = arg;

	(void)loop;
	if (m->leaving) {
		/* Second Ctrl-C: the mount is already gone; do not wait for trackers. */
		_exit(130);
	}
	mlog(m, TORRENT_LOG_INFO,
	     signo == SIGINT ? "unmounting (Ctrl-C again to quit at once)" : "unmounting");
	leave(m);
}

/* ---- set-up helpers -------------------------------------------------------- */

/* mkdir -p; 0 or -errno. */
static int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = i == n ? '\0' : '/';
	}
	return 0;
}

/* The default cache: $XDG_CACHE_HOME/pieces/<hex>, else ~/.cache/pieces/<hex>. */
static int
default_cache(const char *hex, char *out, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	/* The XDG spec says to ignore a relative XDG_CACHE_HOME. */
	if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(out, len, "%s/pieces/%s", xdg, hex);
	} else {
		if (home == NULL || home[0] == '\0') {
			struct passwd *pw = getpwuid(getuid());

			home = pw != NULL ? pw->pw_dir : NULL;
		}
		if (home == NULL)
			return -1;
		n = snprintf(out, len, "%s/.cache/pieces/%s", home, hex);
	}
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/*
 * Copies the .torrent into the cache (atomically), after checking that the
 * cache does not already belong to another torrent.
 */
static int
save_torrent_copy(const char *src, const char *cache, const struct metainfo *mi)
{
	char dst[PATH_MAX + 16], tmp[PATH_MAX + 16];
	struct metainfo *old;
	struct error err = {0};
	FILE *in = NULL, *out = NULL;
	char chunk[65536];
	size_t n;
	int rc = -1;

	snprintf(dst, sizeof dst, "%s/torrent", cache);
	snprintf(tmp, sizeof tmp, "%s/torrent.tmp", cache);
	if ((old = metainfo_load(dst, &err)) != NULL) {
		int same = memcmp(old->info_hash, mi->info_hash, sizeof mi->info_hash) == 0;
		char hex[41];

		textenc_hex(old->info_hash, 20, hex);
		metainfo_free(old);
		if (!same) {
			cmd_error("%s holds the cache of another torrent (info-hash %s); "
				  "choose another --cache folder",
				  cache, hex);
			return -1;
		}
	}
	if ((in = fopen(src, "rb")) == NULL || (out = fopen(tmp, "wb")) == NULL)
		goto out;
	while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
		if (fwrite(chunk, 1, n, out) != n)
			goto out;
	if (ferror(in) || fclose(out) != 0) {
		out = NULL;
		goto out;
	}
	out = NULL;
	if (rename(tmp, dst) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		cmd_error("%s: cannot save a copy of the torrent: %s", dst, strerror(errno));
		unlink(tmp);
	}
	if (in != NULL)
		fclose(in);
	if (out != NULL)
		fclose(out);
	return rc;
}

/* Refuses a stale FUSE mount, a busy mount point and non-folders, saying why. */
static int
check_mountpoint(const char *path)
{
	char up[PATH_MAX];
	struct stat st, pst;

	if (stat(path, &st) < 0) {
		if (errno == ENOTCONN)
			cmd_error("%s: stale mount (the filesystem behind it has gone); "
				  "run 'fusermount3 -u %s' first",
				  path, path);
		else
			cmd_error("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cmd_error("%s: not a folder", path);
		return -1;
	}
	snprintf(up, sizeof up, "%s/..", path);
	if (stat(up, &pst) < 0) {
		cmd_error("%s: %s", up, strerror(errno));
		return -1;
	}
	/* Another filesystem is mounted there already (maybe another pieces mount). */
	if (st.st_dev != pst.st_dev || st.st_ino == pst.st_ino) {
		cmd_error("%s is busy: something is already mounted there "
			  "(unmount it first with 'fusermount3 -u %s')",
			  path, path);
		return -1;
	}
	return 0;
}

/* Child to parent: "the mount is up and the engine runs" (one byte), then detach. */
static void
report_ready(int fd, const char *logpath)
{
	char ok = 1;
	int null, logfd;

	if (fd < 0)
		return;
	while (write(fd, &ok, 1) < 0 && errno == EINTR)
		;
	close(fd);
	if (chdir("/") < 0) {
		/* Not fatal: we only use absolute paths from here on. */
	}
	if ((null = open("/dev/null", O_RDWR)) >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (null > 2)
			close(null);
	}
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);

	if (logfd >= 0) {
		dup2(logfd, 2);
		close(logfd);
	} else if ((null = open("/dev/null", O_WRONLY)) >= 0) {
		dup2(null, 2);
		close(null);
	}
}

/* ---- the command ------------------------------------------------------------- */

int
cmd_mount(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"foreground", no_argument, NULL, 'f'},
	    {"cache", required_argument, NULL, 'C'},
	    {"on-demand", no_argument, NULL, 'O'},
	    {"peer", required_argument, NULL, 'P'},
	    {"port", required_argument, NULL, 'p'},
	    {"bind", required_argument, NULL, 'B'},
	    {"max-peers", required_argument, NULL, 'M'},
	    {"max-down", required_argument, NULL, 'D'},
	    {"max-up", required_argument, NULL, 'U'},
	    {"debug", no_argument, NULL, 'd'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const struct torrent_ops ops = {
	    .log = on_log,
	    .checked = on_checked,
	    .complete = on_complete,
	    .stopped = on_stopped,
	    .fatal = on_fatal,
	    .disk_error = on_disk_error,
	    .verified = on_verified,
	};
	const char *fopts[MAX_FUSE_OPTS];
	struct cmd_peers peers = {.n = 0};
	const char *cache_arg = NULL, *torrent_path, *mnt_arg;
	char hex[41], cache[PATH_MAX], path[PATH_MAX + 16], mountpoint[PATH_MAX],
	    data[PATH_MAX + 16], resume[PATH_MAX + 16], logpath[PATH_MAX + 16];
	struct torrent_config cfg = {0};
	struct fs_hooks hooks;
	struct mnt m = {0};
	struct metainfo *mi = NULL;
	struct http *http = NULL;
	struct error err = {0};
	size_t nfopts = 0;
	int c, erc, rc = CMD_EXIT_FAIL, foreground = 0, debug = 0, on_demand = 0, lockfd = -1,
		    report_fd = -1;

	cfg.port = 6881;
	m.verbosity = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "fo:p:dvqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = 1;
			break;
		case 'o':
			if (nfopts >= MAX_FUSE_OPTS) {
				cmd_error("too many -o options");
				return CMD_EXIT_USAGE;
			}
			fopts[nfopts++] = optarg;
			break;
		case 'C':
			cache_arg = optarg;
			break;
		case 'O':
			on_demand = 1;
			break;
		case 'd':
			debug = 1;
			foreground = 1;
			break;
		case 'v':
			m.verbosity = 2;
			break;
		case 'q':
			m.verbosity = 0;
			break;
		case 'h':
			mount_usage(stdout);
			return CMD_EXIT_OK;
		default:
			if ((erc = cmd_engine_option(c, optarg, &cfg, &peers)) > 0)
				break;
			if (erc < 0)
				return CMD_EXIT_USAGE;
			mount_usage(stderr);
			return CMD_EXIT_USAGE;
		}
	}
	if (optind != argc - 2) {
		mount_usage(stderr);
		return CMD_EXIT_USAGE;
	}
	torrent_path = argv[optind];
	mnt_arg = argv[optind + 1];
	if (strncmp(torrent_path, "magnet:", 7) == 0) {
		cmd_error("magnet links are not supported by mount yet: use a .torrent file");
		return CMD_EXIT_FAIL;
	}
	if ((mi = metainfo_load(torrent_path, &err)) == NULL) {
		cmd_error("%s: %s", torrent_path, err.msg);
		return CMD_EXIT_FAIL;
	}
	m.mi = mi;

	/* The mount point: refuse stale and busy ones with a clear word; absolute from here. */
	if (check_mountpoint(mnt_arg) < 0)
		goto out;
	if (realpath(mnt_arg, mountpoint) == NULL) {
		cmd_error("%s: %s", mnt_arg, strerror(errno));
		goto out;
	}
	m.mountpoint = mountpoint;

	/* The cache: data/, resume, torrent, log; locked against a second process. */
	textenc_hex(mi->info_hash, 20, hex);
	if (cache_arg != NULL) {
		if (strlen(cache_arg) >= PATH_MAX) {
			cmd_error("%s: path too long", cache_arg);
			goto out;
		}
		snprintf(path, sizeof path, "%s", cache_arg);
	} else if (default_cache(hex, path, PATH_MAX) < 0) {
		cmd_error("cannot find a cache folder: set HOME or XDG_CACHE_HOME, or use --cache");
		goto out;
	}
	if ((c = mkdir_p(path, 0700)) < 0) {
		cmd_error("%s: %s", path, strerror(-c));
		goto out;
	}
	if (realpath(path, cache) == NULL) {
		cmd_error("%s: %s", path, strerror(errno));
		goto out;
	}
	snprintf(data, sizeof data, "%s/data", cache);
	snprintf(resume, sizeof resume, "%s/resume", cache);
	snprintf(logpath, sizeof logpath, "%s/log", cache);
	snprintf(path, sizeof path, "%s/lock", cache);
	if ((lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		cmd_error("%s: %s", path, strerror(errno));
		goto out;
	}
	if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			cmd_error("%s is in use by another pieces process (is the torrent mounted "
				  "elsewhere?)",
				  cache);
		else
			cmd_error("%s: %s", path, strerror(errno));
		goto out;
	}
	if (save_torrent_copy(torrent_path, cache, mi) < 0)
		goto out;
	cfg.dir = data;
	cfg.resume_path = resume;

	if (!foreground) {
		int pfd[2];
		pid_t pid;
		char ok;
		ssize_t n;

		fflush(NULL);
		if (pipe2(pfd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
			cmd_error("cannot go to the background: %s", strerror(errno));
			goto out;
		}
		if (pid > 0) {
			/* The parent: exit once the child is mounted and running (or failed). */
			close(pfd[1]);
			while ((n = read(pfd[0], &ok, 1)) < 0 && errno == EINTR)
				;
			close(pfd[0]);
			rc = n == 1 ? CMD_EXIT_OK : CMD_EXIT_FAIL; /* the child said why */
			goto out;
		}
		close(pfd[0]);
		report_fd = pfd[1];
		setsid();
		m.background = 1;
	}

	if (http_global_init() < 0 || (m.loop = loop_new()) == NULL ||
	    (http = http_new(m.loop)) == NULL) {
		cmd_error("cannot initialise the event loop");
		goto out;
	}
	if ((erc = cmd_http_setup(http, &cfg)) != 0) {
		rc = erc;
		goto out;
	}
	if ((m.t = torrent_new(m.loop, http, mi, &cfg, &ops, &m, &err)) == NULL) {
		cmd_error("%s", err.msg);
		goto out;
	}
	if (cmd_add_peers(m.t, &peers) < 0) {
		rc = CMD_EXIT_USAGE;
		goto out;
	}
	hooks.log = on_log;
	hooks.unmounted = on_unmounted;
	hooks.arg = &m;
	if ((m.fs = fs_new(m.loop, m.t, mi, on_demand,
			   mi->has_creation_date ? mi->creation_date : (int64_t)time(NULL), &hooks,
			   &err)) == NULL) {
		cmd_error("%s", err.msg);
		goto out;
	}
	if (fs_mount(m.fs, mountpoint, fopts, nfopts, debug, &err) < 0) {
		cmd_error("%s", err.msg);
		goto out;
	}
	/* Mounted first, so requests arriving during the start-up check are parked. */
	if (torrent_start(m.t, &err) < 0) {
		cmd_error("%s", err.msg);
		goto out;
	}
	loop_signal(m.loop, SIGINT, on_signal, &m);
	loop_signal(m.loop, SIGTERM, on_signal, &m);
	loop_signal(m.loop, SIGHUP, on_signal, &m);
	if (foreground && m.verbosity > 0)
		fprintf(stderr, "pieces: %s mounted on %s (cache %s); Ctrl-C to unmount\n",
			mi->name, mountpoint, cache);
	report_ready(report_fd, logpath);
	report_fd = -1;
	if (loop_run(m.loop) < 0) {
		mlog(&m, TORRENT_LOG_ERROR, "event loop failed");
		goto out;
	}
	if (m.failed) {
		if (!m.background)
			cmd_error("%s", m.fatal);
	} else {
		rc = CMD_EXIT_OK;
	}
out:
	if (report_fd >= 0)
		close(report_fd); /* the parent sees EOF: failed, and we said why */
	fs_free(m.fs);
	torrent_free(m.t);
	http_free(http);
	loop_free(m.loop);
	metainfo_free(mi);
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
