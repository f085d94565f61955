/*
 * main: the pieces command line. Dispatches to a subcommand; `--help` and
 * `--version` work at the top level and for every subcommand.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static void
usage(FILE *f)
{
	fputs("usage: pieces COMMAND [OPTIONS] ARGS\n"
	      "\n"
	      "Commands:\n"
	      "  info FILE.torrent|MAGNET   show what a torrent or magnet link holds\n"
	      "  create [OPTIONS] PATH      make a .torrent of a file or directory\n"
	      "  download [OPTIONS] FILE.torrent\n"
	      "                             download into a folder (resumable)\n"
	      "  seed [OPTIONS] FILE.torrent DIR\n"
	      "                             verify DIR and seed it\n"
	      "  mount [OPTIONS] FILE.torrent MOUNTPOINT\n"
	      "                             show the torrent as a folder; reads fetch\n"
	      "                             what they need first\n"
	      "\n"
	      "  pieces COMMAND --help      options of one command\n"
	      "  pieces --version           print the version\n",
	      f);
}

void
cmd_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pieces: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *
cmd_human_size(unsigned long long n, char *out, unsigned len)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)n;
	unsigned u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", n);
	else
		snprintf(out, len, "%.2f %s", v, units[u]);
	return out;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return CMD_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return CMD_EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return CMD_EXIT_OK;
	}
	if (strcmp(cmd, "info") == 0)
		return cmd_info(argc - 1, argv + 1);
	if (strcmp(cmd, "create") == 0)
		return cmd_create(argc - 1, argv + 1);
	if (strcmp(cmd, "download") == 0)
		return cmd_download(argc - 1, argv + 1);
	if (strcmp(cmd, "seed") == 0)
		return cmd_seed(argc - 1, argv + 1);
	if (strcmp(cmd, "mount") == 0)
		return cmd_mount(argc - 1, argv + 1);
	/* `pieces FILE.torrent` is short for `pieces download FILE.torrent`. */
	if (strlen(cmd) > 8 && strcmp(cmd + strlen(cmd) - 8, ".torrent") == 0)
		return cmd_download(argc, argv);
	cmd_error("unknown command '%s' (try 'pieces --help')", cmd);
	return CMD_EXIT_USAGE;
}
