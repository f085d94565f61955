/*
 * cmd_download: `pieces download FILE.torrent [-o DIR] [--peer H:P]...`
 * (also `pieces FILE.torrent`). Runs the engine on one loop until the
 * torrent is complete or the user interrupts; shows a live progress line on
 * a terminal and a line now and then otherwise.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "http.h"
#include "loop.h"
#include "metainfo.h"
#include "torrent.h"

struct dl {
	struct loop *loop;
	struct torrent *t;
	struct loop_timer *progress;
	const struct metainfo *mi;
	int verbosity; /* 0 quiet, 1 normal, 2 verbose */
	int tty;
	int interrupted;
	uint64_t interrupt_ms;
	int failed;
	int done;
	int seed;	       /* keep seeding after completion */
	int seed_only;	       /* `pieces seed`: never download */
	double seed_ratio;     /* stop at this upload/size ratio; 0 = no limit */
	uint64_t seed_time_ms; /* stop after seeding this long; 0 = no limit */
	uint64_t seed_start_ms;
	uint64_t next_line_ms; /* not a terminal: the next progress line, every 10 s */
	uint64_t start_ms;
	char fatal[256];
};

static void
seed_usage(FILE *f)
{
	fputs("usage: pieces seed [OPTIONS] FILE.torrent DIR\n"
	      "\n"
	      "Verifies the data in DIR (using resume data when it still matches) and\n"
	      "seeds it until Ctrl-C, --seed-ratio or --seed-time.\n"
	      "      --peer HOST:PORT     connect to this peer too (repeatable)\n"
	      "  -p, --port N             listen port (default 6881; 0 = any)\n"
	      "      --bind ADDR          use only this local address (default: all)\n"
	      "      --max-peers N        connections at most (default 50)\n"
	      "      --max-up RATE        upload limit, e.g. 500K or 2M (bytes/s)\n"
	      "      --slots N            upload slots (default 4)\n"
	      "      --seed-ratio R       stop after uploading R times the torrent size\n"
	      "      --seed-time DURATION stop after seeding this long (e.g. 90s, 30m, 2h)\n"
	      "  -v, --verbose / -q, --quiet\n",
	      f);
}

static void
dl_usage(FILE *f)
{
	fputs("usage: pieces download [OPTIONS] FILE.torrent\n"
	      "       pieces FILE.torrent\n"
	      "\n"
	      "Downloads a torrent into a folder, verifying every piece; an interrupted\n"
	      "download resumes where it stopped.\n"
	      "  -o, --output DIR     download folder (default: the current folder)\n"
	      "      --peer HOST:PORT connect to this peer too (repeatable)\n"
	      "  -p, --port N         listen port for incoming peers (default 6881; 0 = any)\n"
	      "      --bind ADDR      use only this local address (default: all)\n"
	      "      --max-peers N    connections at most (default 50)\n"
	      "      --max-down RATE  download limit, e.g. 500K or 2M (bytes/s)\n"
	      "      --max-up RATE    upload limit\n"
	      "      --slots N        upload slots (default 4)\n"
	      "      --seed           keep seeding after the download completes\n"
	      "      --seed-ratio R   ... until uploaded = R x size (implies --seed)\n"
	      "      --seed-time D    ... for this long, e.g. 90s, 30m, 2h (implies --seed)\n"
	      "  -v, --verbose        log peers and trackers\n"
	      "  -q, --quiet          only errors\n",
	      f);
}

static void
fmt_rate(double bps, char *out, size_t len)
{
	if (bps >= 1e9)
		snprintf(out, len, "%.2f GB/s", bps / 1e9);
	else if (bps >= 1e6)
		snprintf(out, len, "%.1f MB/s", bps / 1e6);
	else
		snprintf(out, len, "%.0f kB/s", bps / 1e3);
}

static void
fmt_eta(double secs, char *out, size_t len)
{
	unsigned long s = (unsigned long)secs;

	if (secs <= 0 || secs > 86400.0 * 99)
		snprintf(out, len, "--:--");
	else if (s >= 3600)
		snprintf(out, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, len, "%lu:%02lu", s / 60, s % 60);
}

static void
show_progress(struct dl *d, int final)
{
	struct torrent_stats s;
	char rate[32], eta[32];
	double pct;

	torrent_get_stats(d->t, &s);
	pct = s.total ? 100.0 * (double)s.have_bytes / (double)s.total : 100.0;
	fmt_rate(s.down_rate, rate, sizeof rate);
	fmt_eta(s.down_rate > 0 ? (double)(s.total - s.have_bytes) / s.down_rate : -1, eta,
		sizeof eta);
	if (s.checking) {
		if (d->tty)
			fprintf(stderr, "\r\033[Kchecking existing data...");
		return;
	}
	if (s.complete) {
		char up[32], sent[32];

		fmt_rate(s.up_rate, up, sizeof up);
		cmd_human_size(s.uploaded, sent, sizeof sent);
		fprintf(stderr, "%sseeding  up %s  uploaded %s  ratio %.2f  %u peer%s%s",
			d->tty ? "\r\033[K" : "", up, sent,
			s.total ? (double)s.uploaded / (double)s.total : 0.0, s.peers,
			s.peers == 1 ? "" : "s", d->tty ? "" : "\n");
	} else if (d->tty) {
		fprintf(stderr, "\r\033[K%5.1f%%  %s  %u peer%s  ETA %s", pct, rate, s.peers,
			s.peers == 1 ? "" : "s", eta);
	} else {
		fprintf(stderr, "%5.1f%%  %s  %u peer%s  ETA %s\n", pct, rate, s.peers,
			s.peers == 1 ? "" : "s", eta);
	}
	if (final && d->tty)
		fputc('\n', stderr);
}

static void
on_progress(struct loop_timer *tm, void *arg)
{
	struct dl *d = arg;
	struct torrent_stats s;

	/*
	 * Every second, so that --seed-time and --seed-ratio stop on time;
	 * without a terminal, a progress line only every 10 s.
	 */
	if (d->verbosity > 0 && (d->tty || loop_now_ms(d->loop) >= d->next_line_ms)) {
		show_progress(d, 0);
		d->next_line_ms = loop_now_ms(d->loop) + 10000;
	}
	torrent_get_stats(d->t, &s);
	if (d->seed && s.complete && !d->interrupted && !d->done) {
		uint64_t now = loop_now_ms(d->loop);

		if ((d->seed_ratio > 0 && s.total > 0 &&
		     (double)s.uploaded >= d->seed_ratio * (double)s.total) ||
		    (d->seed_time_ms > 0 && now - d->seed_start_ms >= d->seed_time_ms)) {
			d->done = 1;
			if (d->verbosity > 0) {
				if (d->tty)
					fputs("\r\033[K", stderr);
				fputs("pieces: seeding goal reached\n", stderr);
			}
			torrent_stop(d->t);
			return;
		}
	}
	loop_timer_start(tm, 1000);
}

static void
on_log(void *arg, enum torrent_log_level level, const char *msg)
{
	struct dl *d = arg;

	if (level == TORRENT_LOG_DEBUG && d->verbosity < 2)
		return;
	if (level == TORRENT_LOG_INFO && d->verbosity < 1)
		return;
	if (level == TORRENT_LOG_WARNING && d->verbosity < 1)
		return;
	if (d->tty)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "pieces: %s%s\n", level == TORRENT_LOG_WARNING ? "warning: " : "", msg);
}

static void
on_checked(void *arg, uint32_t have, uint32_t total)
{
	struct dl *d = arg;

	if (d->seed_only && have < total && d->verbosity > 0)
		fprintf(stderr,
			"pieces: warning: only %u of %u pieces are present; seeding those\n", have,
			total);
}

static void
on_complete(void *arg)
{
	struct dl *d = arg;

	if (d->seed) {
		d->seed_start_ms = loop_now_ms(d->loop);
		if (d->verbosity > 0) {
			if (d->tty)
				fputs("\r\033[K", stderr);
			fputs(d->seed_only
				  ? "pieces: seeding (Ctrl-C to stop)\n"
				  : "pieces: download complete; seeding (Ctrl-C to stop)\n",
			      stderr);
		}
		return;
	}
	d->done = 1;
	torrent_stop(d->t);
}

static void
on_stopped(void *arg)
{
	struct dl *d = arg;

	loop_stop(d->loop);
}

static void
on_fatal(void *arg, const char *msg)
{
	struct dl *d = arg;

	snprintf(d->fatal, sizeof d->fatal, "%s", msg);
	d->failed = 1;
	torrent_stop(d->t);
}

static void
on_signal(struct loop *loop, int signo, void *arg)
{
	struct dl *d = arg;

	if (d->interrupted && loop_now_ms(loop) - d->interrupt_ms >= 500) {
		/*
		 * Second Ctrl-C: the user does not want to wait for trackers. One
		 * within half a second is the same event delivered twice (timeout(1)
		 * signals the child and then its process group).
		 */
		if (d->tty)
			fputc('\n', stderr);
		_exit(130);
	}
	if (d->interrupted)
		return;
	d->interrupted = 1;
	d->interrupt_ms = loop_now_ms(loop);
	if (d->verbosity > 0) {
		if (d->tty)
			fputs("\r\033[K", stderr);
		fputs("pieces: stopping (Ctrl-C again to quit at once)\n", stderr);
	}
	torrent_stop(d->t);
}

/* "90", "90s", "30m", "2h", "1d" -> milliseconds; 0 on error. */
static uint64_t
parse_duration(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || v <= 0)
		return 0;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return 0;
	}
	if (*end != '\0' && end[1] != '\0')
		return 0;
	return (uint64_t)(v * 1000.0);
}

static int run(int argc, char **argv, int seed_cmd);

int
cmd_download(int argc, char **argv)
{
	return run(argc, argv, 0);
}

int
cmd_seed(int argc, char **argv)
{
	return run(argc, argv, 1);
}

static int
run(int argc, char **argv, int seed_cmd)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"peer", required_argument, NULL, 'P'},
	    {"port", required_argument, NULL, 'p'},
	    {"bind", required_argument, NULL, 'B'},
	    {"max-peers", required_argument, NULL, 'M'},
	    {"max-down", required_argument, NULL, 'D'},
	    {"max-up", required_argument, NULL, 'U'},
	    {"slots", required_argument, NULL, 'S'},
	    {"seed", no_argument, NULL, 's'},
	    {"seed-ratio", required_argument, NULL, 'r'},
	    {"seed-time", required_argument, NULL, 't'},
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
	};
	struct cmd_peers peers = {.n = 0};
	struct torrent_config cfg = {0};
	struct dl d = {0};
	struct metainfo *mi = NULL;
	struct http *http = NULL;
	struct error err = {0};
	struct torrent_stats s;
	int c, erc, rc = CMD_EXIT_FAIL;

	cfg.dir = ".";
	cfg.port = 6881;
	d.verbosity = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, seed_cmd ? "p:vqh" : "o:p:vqh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'o':
			cfg.dir = optarg;
			break;
		case 's':
			d.seed = 1;
			break;
		case 'r': {
			char *end;

			d.seed_ratio = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || d.seed_ratio <= 0) {
				cmd_error("invalid --seed-ratio '%s'", optarg);
				return CMD_EXIT_USAGE;
			}
			d.seed = 1;
			break;
		}
		case 't':
			if ((d.seed_time_ms = parse_duration(optarg)) == 0) {
				cmd_error("invalid --seed-time '%s' (e.g. 90s, 30m, 2h)", optarg);
				return CMD_EXIT_USAGE;
			}
			d.seed = 1;
			break;
		case 'v':
			d.verbosity = 2;
			break;
		case 'q':
			d.verbosity = 0;
			break;
		case 'h':
			(seed_cmd ? seed_usage : dl_usage)(stdout);
			return CMD_EXIT_OK;
		default:
			if ((erc = cmd_engine_option(c, optarg, &cfg, &peers)) > 0)
				break;
			if (erc < 0)
				return CMD_EXIT_USAGE;
			(seed_cmd ? seed_usage : dl_usage)(stderr);
			return CMD_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 - seed_cmd) {
		(seed_cmd ? seed_usage : dl_usage)(stderr);
		return CMD_EXIT_USAGE;
	}
	if (seed_cmd) {
		cfg.dir = argv[optind + 1];
		cfg.seed_only = 1;
		d.seed = 1;
		d.seed_only = 1;
	}
	if (strncmp(argv[optind], "magnet:", 7) == 0) {
		cmd_error("magnet links are not supported by download yet: use a .torrent file");
		return CMD_EXIT_FAIL;
	}
	if ((mi = metainfo_load(argv[optind], &err)) == NULL) {
		cmd_error("%s: %s", argv[optind], err.msg);
		return CMD_EXIT_FAIL;
	}
	d.mi = mi;
	d.tty = isatty(2);
	if (http_global_init() < 0 || (d.loop = loop_new()) == NULL ||
	    (http = http_new(d.loop)) == NULL) {
		cmd_error("cannot initialise the event loop");
		goto out;
	}
	if ((erc = cmd_http_setup(http, &cfg)) != 0) {
		rc = erc;
		goto out;
	}
	if ((d.t = torrent_new(d.loop, http, mi, &cfg, &ops, &d, &err)) == NULL) {
		cmd_error("%s", err.msg);
		goto out;
	}
	if (cmd_add_peers(d.t, &peers) < 0) {
		rc = CMD_EXIT_USAGE;
		goto out;
	}
	if (torrent_start(d.t, &err) < 0) {
		cmd_error("%s", err.msg);
		goto out;
	}
	loop_signal(d.loop, SIGINT, on_signal, &d);
	loop_signal(d.loop, SIGTERM, on_signal, &d);
	d.progress = loop_timer_new(d.loop, on_progress, &d);
	d.next_line_ms = loop_now_ms(d.loop) + 10000;
	loop_timer_start(d.progress, 1000);
	d.start_ms = loop_now_ms(d.loop);
	if (loop_run(d.loop) < 0) {
		cmd_error("event loop failed: %s", strerror(errno));
		goto out;
	}
	torrent_get_stats(d.t, &s);
	if (d.verbosity > 0 && d.tty)
		fputs("\r\033[K", stderr);
	{
		double secs = (double)(loop_now_ms(d.loop) - d.start_ms) / 1000.0;
		char total[32], rate[32];

		fmt_rate(secs > 0 ? (double)s.downloaded / secs : 0, rate, sizeof rate);
		if (d.seed_only)
			printf("%s: seeded for %.1f s with %u of %u pieces; %llu bytes uploaded "
			       "(%.2f x the torrent's size)\n",
			       mi->name, secs, s.have_pieces, s.piece_count,
			       (unsigned long long)s.uploaded,
			       s.total ? (double)s.uploaded / (double)s.total : 0.0);
		else if (d.verbosity > 0 || !s.complete)
			printf("%s: %s %.1f%% of %s in %.1f s (%s); %u pieces were on disk, "
			       "%u downloaded, %u failed verification, %llu bytes wasted, "
			       "%llu bytes uploaded\n",
			       mi->name, s.complete ? "complete," : "stopped at",
			       s.total ? 100.0 * (double)s.have_bytes / (double)s.total : 100.0,
			       cmd_human_size(s.total, total, sizeof total), secs, rate,
			       s.have_at_start, s.have_pieces - s.have_at_start, s.failed_pieces,
			       (unsigned long long)s.wasted, (unsigned long long)s.uploaded);
		fflush(stdout);
	}
	if (d.failed)
		cmd_error("%s", d.fatal);
	else if (s.complete || (d.seed_only && d.interrupted))
		rc = CMD_EXIT_OK;
	else if (d.interrupted)
		cmd_error("interrupted; run the same command again to resume");
	else
		cmd_error("download did not complete");
out:
	loop_timer_free(d.progress);
	torrent_free(d.t);
	http_free(http);
	loop_free(d.loop);
	metainfo_free(mi);
	return rc;
}
