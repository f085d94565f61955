/*
 * cmd_info: `pieces info FILE.torrent|MAGNET [--json]`, a description of a
 * torrent in the spirit of transmission-show, or JSON for scripts.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "json.h"
#include "magnet.h"
#include "metainfo.h"
#include "textenc.h"

#define JSON_MAX_OUTPUT (256u << 20)

static void
info_usage(FILE *f)
{
	fputs("usage: pieces info [--json] FILE.torrent|MAGNET\n"
	      "\n"
	      "Shows the name, info-hash, size, pieces, trackers, web seeds and files.\n"
	      "  -j, --json   machine-readable output\n",
	      f);
}

/* Writes s with control characters replaced, so hostile names cannot drive the terminal. */
static void
put_safe(const char *s)
{
	for (; *s; s++)
		putchar(((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s);
}

static void
print_torrent(const struct metainfo *mi)
{
	char hex[2 * SHA1_LEN + 1], sz[32], psz[32], date[64];
	size_t i, j, shown = 0;

	textenc_hex(mi->info_hash, SHA1_LEN, hex);
	fputs("Name: ", stdout);
	put_safe(mi->name);
	printf("\nInfo-hash: %s\n", hex);
	printf("Size: %s (%llu bytes)\n", cmd_human_size(mi->total_length, sz, sizeof sz),
	       (unsigned long long)mi->total_length);
	printf("Pieces: %u x %s\n", mi->piece_count,
	       cmd_human_size(mi->piece_length, psz, sizeof psz));
	printf("Private: %s\n", mi->private_flag ? "yes" : "no");
	if (mi->has_creation_date) {
		time_t t = (time_t)mi->creation_date;
		struct tm tm;

		if (gmtime_r(&t, &tm) != NULL &&
		    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm) > 0)
			printf("Created on: %s\n", date);
	}
	if (mi->created_by != NULL) {
		fputs("Created by: ", stdout);
		put_safe(mi->created_by);
		putchar('\n');
	}
	if (mi->comment != NULL) {
		fputs("Comment: ", stdout);
		put_safe(mi->comment);
		putchar('\n');
	}
	if (mi->source != NULL) {
		fputs("Source: ", stdout);
		put_safe(mi->source);
		putchar('\n');
	}
	printf("\nTrackers:%s\n", mi->ntiers ? "" : " none");
	for (i = 0; i < mi->ntiers; i++) {
		printf("  Tier %zu:\n", i + 1);
		for (j = 0; j < mi->tiers[i].nurls; j++) {
			fputs("    ", stdout);
			put_safe(mi->tiers[i].urls[j]);
			putchar('\n');
		}
	}
	if (mi->nweb_seeds > 0) {
		printf("\nWeb seeds:\n");
		for (i = 0; i < mi->nweb_seeds; i++) {
			fputs("  ", stdout);
			put_safe(mi->web_seeds[i]);
			putchar('\n');
		}
	}
	for (i = 0; i < mi->nfiles; i++)
		shown += !mi->files[i].pad;
	printf("\nFiles (%zu):\n", shown);
	for (i = 0; i < mi->nfiles; i++) {
		if (mi->files[i].pad)
			continue;
		fputs("  ", stdout);
		put_safe(mi->files[i].path);
		printf(" (%s)\n", cmd_human_size(mi->files[i].length, sz, sizeof sz));
	}
}

static void
json_torrent(struct json *j, const struct metainfo *mi)
{
	char hex[2 * SHA1_LEN + 1];
	size_t i, k;

	textenc_hex(mi->info_hash, SHA1_LEN, hex);
	json_object_begin(j);
	json_key(j, "type");
	json_cstring(j, "torrent");
	json_key(j, "name");
	json_cstring(j, mi->name);
	json_key(j, "info_hash");
	json_cstring(j, hex);
	json_key(j, "total_size");
	json_uint(j, mi->total_length);
	json_key(j, "piece_size");
	json_uint(j, mi->piece_length);
	json_key(j, "piece_count");
	json_uint(j, mi->piece_count);
	json_key(j, "private");
	json_bool(j, mi->private_flag);
	json_key(j, "multi_file");
	json_bool(j, mi->multi_file);
	json_key(j, "comment");
	json_cstring(j, mi->comment);
	json_key(j, "created_by");
	json_cstring(j, mi->created_by);
	json_key(j, "creation_date");
	if (mi->has_creation_date)
		json_int(j, mi->creation_date);
	else
		json_null(j);
	json_key(j, "source");
	json_cstring(j, mi->source);
	json_key(j, "trackers");
	json_array_begin(j);
	for (i = 0; i < mi->ntiers; i++) {
		json_array_begin(j);
		for (k = 0; k < mi->tiers[i].nurls; k++)
			json_cstring(j, mi->tiers[i].urls[k]);
		json_array_end(j);
	}
	json_array_end(j);
	json_key(j, "web_seeds");
	json_array_begin(j);
	for (i = 0; i < mi->nweb_seeds; i++)
		json_cstring(j, mi->web_seeds[i]);
	json_array_end(j);
	json_key(j, "files");
	json_array_begin(j);
	for (i = 0; i < mi->nfiles; i++) {
		if (mi->files[i].pad)
			continue;
		json_object_begin(j);
		json_key(j, "path");
		json_cstring(j, mi->files[i].path);
		json_key(j, "size");
		json_uint(j, mi->files[i].length);
		json_key(j, "offset");
		json_uint(j, mi->files[i].offset);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

static void
print_magnet(const struct magnet *m)
{
	char hex[2 * SHA1_LEN + 1];
	size_t i;

	textenc_hex(m->info_hash, SHA1_LEN, hex);
	fputs("Name: ", stdout);
	put_safe(m->name ? m->name : "(unknown until metadata is fetched)");
	printf("\nInfo-hash: %s\n", hex);
	printf("\nTrackers:%s\n", m->ntrackers ? "" : " none");
	for (i = 0; i < m->ntrackers; i++) {
		printf("  Tier %zu:\n    ", i + 1);
		put_safe(m->trackers[i]);
		putchar('\n');
	}
	if (m->npeers > 0) {
		printf("\nPeers:\n");
		for (i = 0; i < m->npeers; i++) {
			fputs("  ", stdout);
			put_safe(m->peers[i]);
			putchar('\n');
		}
	}
	if (m->nweb_seeds > 0) {
		printf("\nWeb seeds:\n");
		for (i = 0; i < m->nweb_seeds; i++) {
			fputs("  ", stdout);
			put_safe(m->web_seeds[i]);
			putchar('\n');
		}
	}
}

static void
json_magnet(struct json *j, const struct magnet *m)
{
	char hex[2 * SHA1_LEN + 1];
	size_t i;

	textenc_hex(m->info_hash, SHA1_LEN, hex);
	json_object_begin(j);
	json_key(j, "type");
	json_cstring(j, "magnet");
	json_key(j, "name");
	json_cstring(j, m->name);
	json_key(j, "info_hash");
	json_cstring(j, hex);
	/* Each tr is its own tier (BEP 9 does not group them). */
	json_key(j, "trackers");
	json_array_begin(j);
	for (i = 0; i < m->ntrackers; i++) {
		json_array_begin(j);
		json_cstring(j, m->trackers[i]);
		json_array_end(j);
	}
	json_array_end(j);
	json_key(j, "web_seeds");
	json_array_begin(j);
	for (i = 0; i < m->nweb_seeds; i++)
		json_cstring(j, m->web_seeds[i]);
	json_array_end(j);
	json_key(j, "peers");
	json_array_begin(j);
	for (i = 0; i < m->npeers; i++)
		json_cstring(j, m->peers[i]);
	json_array_end(j);
	json_object_end(j);
}

int
cmd_info(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct error err = {0};
	struct metainfo *mi = NULL;
	struct magnet *m = NULL;
	struct buf out;
	struct json j;
	const char *arg;
	int c, as_json = 0, rc = CMD_EXIT_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			as_json = 1;
			break;
		case 'h':
			info_usage(stdout);
			return CMD_EXIT_OK;
		default:
			info_usage(stderr);
			return CMD_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		info_usage(stderr);
		return CMD_EXIT_USAGE;
	}
	arg = argv[optind];
	if (strncmp(arg, "magnet:", 7) == 0) {
		if ((m = magnet_parse(arg, &err)) == NULL) {
			cmd_error("invalid magnet link: %s", err.msg);
			return CMD_EXIT_FAIL;
		}
	} else if ((mi = metainfo_load(arg, &err)) == NULL) {
		cmd_error("%s: %s", arg, err.msg);
		return CMD_EXIT_FAIL;
	}
	if (as_json) {
		buf_init(&out, JSON_MAX_OUTPUT);
		json_init(&j, &out);
		if (mi != NULL)
			json_torrent(&j, mi);
		else
			json_magnet(&j, m);
		if (json_finish(&j) < 0) {
			cmd_error("%s: cannot format JSON output", arg);
		} else {
			fwrite(out.data, 1, out.len, stdout);
			putchar('\n');
			rc = CMD_EXIT_OK;
		}
		buf_free(&out);
	} else {
		if (mi != NULL)
			print_torrent(mi);
		else
			print_magnet(m);
		rc = CMD_EXIT_OK;
	}
	if (fflush(stdout) != 0) {
		cmd_error("writing output: error");
		rc = CMD_EXIT_FAIL;
	}
	metainfo_free(mi);
	magnet_free(m);
	return rc;
}
