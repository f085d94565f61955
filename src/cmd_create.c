/*
 * cmd_create: `pieces create`, a mktorrent-compatible torrent maker. The
 * output is written to a temporary file and renamed into place, so a
 * failed run never leaves a half-written .torrent behind.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "create.h"
#include "metainfo.h"
#include "textenc.h"

#define MAX_URLS	 256
#define MAX_TORRENT_SIZE (64u << 20)

static void
create_usage(FILE *f)
{
	fputs("usage: pieces create [OPTIONS] PATH\n"
	      "\n"
	      "Makes a BitTorrent v1 .torrent describing a file or a directory.\n"
	      "  -o, --output FILE        where to write (default: NAME.torrent)\n"
	      "  -a, --announce URL[,URL] tracker; each -a is a tier, commas add backups\n"
	      "  -w, --web-seed URL       web seed (BEP 19), repeatable\n"
	      "  -p, --private            set the private flag\n"
	      "  -l, --piece-size SIZE    bytes (K/M suffixes) or a power of two\n"
	      "                           exponent 15..26 as mktorrent takes it;\n"
	      "                           default: automatic (at most ~2000 pieces)\n"
	      "  -c, --comment TEXT       comment\n"
	      "  -n, --name NAME          torrent name (default: the basename of PATH)\n"
	      "  -s, --source TEXT        info.source (changes the info-hash)\n"
	      "  -d, --no-date            omit the creation date\n"
	      "  -f, --force              overwrite an existing output file\n"
	      "  -q, --quiet              print nothing on success\n",
	      f);
}

/* Parses "18" (exponent), "262144", "256K", "1M". 0 on error. */
static uint32_t
parse_piece_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *s == '-')
		return 0;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end == 'i' && (end[-1] == 'K' || end[-1] == 'k' || end[-1] == 'M' || end[-1] == 'm'))
		end++;
	if (*end == 'B')
		end++;
	if (*end != '\0')
		return 0;
	if (v >= 15 && v <= 26)
		return 1u << v;
	if (v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

struct progress {
	int tty;
	int last;
};

static void
show_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;
	int pct = total ? (int)(done * 100 / total) : 100;

	if (!p->tty || pct == p->last)
		return;
	p->last = pct;
	fprintf(stderr, "\rhashing: %3d%%", pct);
	if (done == total)
		fputs("\r              \r", stderr);
}

static int
write_atomic(const char *path, const uint8_t *p, size_t n, int force)
{
	char tmp[4096];
	int fd, rc = 0;
	size_t off = 0;

	if (!force && access(path, F_OK) == 0) {
		cmd_error("%s: already exists (use --force to overwrite)", path);
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp) {
		cmd_error("%s: path too long", path);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		cmd_error("%s: %s", tmp, strerror(errno));
		return -1;
	}
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -1;
			break;
		}
		off += (size_t)w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -1;
	if (close(fd) < 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	if (rc < 0) {
		cmd_error("%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return rc;
}

int
cmd_create(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"announce", required_argument, NULL, 'a'},
	    {"web-seed", required_argument, NULL, 'w'},
	    {"private", no_argument, NULL, 'p'},
	    {"piece-size", required_argument, NULL, 'l'},
	    {"piece-length", required_argument, NULL, 'l'},
	    {"comment", required_argument, NULL, 'c'},
	    {"name", required_argument, NULL, 'n'},
	    {"source", required_argument, NULL, 's'},
	    {"no-date", no_argument, NULL, 'd'},
	    {"force", no_argument, NULL, 'f'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *trackers[MAX_URLS], *seeds[MAX_URLS], *output = NULL;
	struct create_opts o = {0};
	struct progress prog = {isatty(2), -1};
	struct error err = {0};
	struct metainfo *mi = NULL;
	struct buf out;
	char *deflt = NULL, hex[2 * SHA1_LEN + 1], sz[32];
	const char *epoch;
	int c, force = 0, quiet = 0, no_date = 0, rc = CMD_EXIT_FAIL;

	o.trackers = trackers;
	o.web_seeds = seeds;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:a:w:pl:c:n:s:dfqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'a':
		case 'w':
			if ((c == 'a' ? o.ntrackers : o.nweb_seeds) >= MAX_URLS) {
				cmd_error("too many URLs (at most %d)", MAX_URLS);
				return CMD_EXIT_USAGE;
			}
			if (c == 'a')
				trackers[o.ntrackers++] = optarg;
			else
				seeds[o.nweb_seeds++] = optarg;
			break;
		case 'p':
			o.private_flag = 1;
			break;
		case 'l':
			if ((o.piece_length = parse_piece_size(optarg)) == 0) {
				cmd_error("invalid piece size '%s'", optarg);
				return CMD_EXIT_USAGE;
			}
			break;
		case 'c':
			o.comment = optarg;
			break;
		case 'n':
			o.name = optarg;
			break;
		case 's':
			o.source = optarg;
			break;
		case 'd':
			no_date = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			create_usage(stdout);
			return CMD_EXIT_OK;
		default:
			create_usage(stderr);
			return CMD_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		create_usage(stderr);
		return CMD_EXIT_USAGE;
	}
	o.path = argv[optind];
	o.created_by = PACKAGE_NAME " " PACKAGE_VERSION;
	/* SOURCE_DATE_EPOCH makes torrents reproducible byte for byte. */
	epoch = getenv("SOURCE_DATE_EPOCH");
	o.creation_date = no_date ? -1 : epoch ? strtoll(epoch, NULL, 10) : (int64_t)time(NULL);
	o.progress = show_progress;
	o.progress_arg = &prog;

	buf_init(&out, MAX_TORRENT_SIZE);
	if (create_torrent(&o, &out, &err) < 0) {
		cmd_error("%s", err.msg);
		goto out;
	}
	/* Read our own output back: what we write must be a torrent we accept. */
	if ((mi = metainfo_parse(out.data, out.len, &err)) == NULL) {
		cmd_error("internal error: created torrent does not parse: %s", err.msg);
		goto out;
	}
	if (output == NULL) {
		size_t n = strlen(mi->name) + sizeof ".torrent";

		if ((deflt = malloc(n)) == NULL)
			goto out;
		snprintf(deflt, n, "%s.torrent", mi->name);
		output = deflt;
	}
	if (write_atomic(output, out.data, out.len, force) < 0)
		goto out;
	if (!quiet) {
		textenc_hex(mi->info_hash, SHA1_LEN, hex);
		printf("%s: %s, %u pieces of %s, info-hash %s\n", output,
		       cmd_human_size(mi->total_length, sz, sizeof sz), mi->piece_count,
		       cmd_human_size(mi->piece_length, (char[32]){0}, 32), hex);
	}
	rc = CMD_EXIT_OK;
out:
	metainfo_free(mi);
	free(deflt);
	buf_free(&out);
	return rc;
}
