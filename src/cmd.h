/*
 * cmd: the CLI's subcommands. Each takes argc/argv after the subcommand
 * name and returns the process exit status; it prints its own messages.
 */
#ifndef PIECES_CMD_H
#define PIECES_CMD_H

#define CMD_EXIT_OK    0
#define CMD_EXIT_FAIL  1
#define CMD_EXIT_USAGE 2

#include <stddef.h>

#include "http.h"
#include "torrent.h"

/* Options every engine command takes (long-option values for getopt_long). */
enum cmd_engine_opt {
	CMD_OPT_PEER = 'P',
	CMD_OPT_PORT = 'p',
	CMD_OPT_BIND = 'B',
	CMD_OPT_MAX_PEERS = 'M',
	CMD_OPT_MAX_DOWN = 'D',
	CMD_OPT_MAX_UP = 'U',
	CMD_OPT_SLOTS = 'S',
};

#define CMD_MAX_PEER_ARGS 64

struct cmd_peers {
	const char *arg[CMD_MAX_PEER_ARGS];
	size_t n;
};

/*
 * Applies one engine option to cfg (--peer values are collected in peers).
 * 1 when c was one, 0 when it is not an engine option, -1 on a bad value
 * (the message is printed).
 */
int cmd_engine_option(int c, const char *arg, struct torrent_config *cfg, struct cmd_peers *peers);
/* Resolves and adds every --peer; -1 with a message on a bad one. */
int cmd_add_peers(struct torrent *t, const struct cmd_peers *peers);
int cmd_add_peer(struct torrent *t, const char *arg);
/* A decimal in 0..max, or -1. */
long cmd_parse_num(const char *s, long max);
/*
 * The HTTP client's settings: tracker requests leave from --bind's address
 * (cfg->bind_addr), and, as curl(1) does, HTTPS trackers are checked
 * against the CA certificates in the PEM file CURL_CA_BUNDLE names when it
 * is set, instead of the system's. 0, or an exit status with a message.
 */
int cmd_http_setup(struct http *h, const struct torrent_config *cfg);

int cmd_info(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_download(int argc, char **argv);
int cmd_seed(int argc, char **argv);
/* In fuse/cmd_mount.c: the only command that needs libfuse. */
int cmd_mount(int argc, char **argv);

/* "pieces: " + message on stderr, one line. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Human-readable size: "1.50 MiB". */
const char *cmd_human_size(unsigned long long n, char *out, unsigned len);

#endif
