/*
 * cmd_engine: command-line pieces shared by the commands that run the
 * engine (download, seed, mount): the peer/port/bind/limit options,
 * turning "HOST:PORT" into peer addresses, and the HTTP client's settings.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cmd.h"
#include "ratelimit.h"

long
cmd_parse_num(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		return -1;
	return v;
}

/* "host:port", "[v6]:port": resolved before the loop starts. */
int
cmd_add_peer(struct torrent *t, const char *arg)
{
	char host[256];
	const char *port, *end;
	struct addrinfo hints, *res, *ai;
	size_t hl;

	if (arg[0] == '[') {
		if ((end = strchr(arg, ']')) == NULL || end[1] != ':')
			return -1;
		arg++;
		port = end + 2;
	} else {
		if ((end = strrchr(arg, ':')) == NULL)
			return -1;
		port = end + 1;
	}
	if ((hl = (size_t)(end - arg)) == 0 || hl >= sizeof host || *port == '\0')
		return -1;
	memcpy(host, arg, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next)
		torrent_add_peer(t, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int
cmd_engine_option(int c, const char *arg, struct torrent_config *cfg, struct cmd_peers *peers)
{
	long v;

	switch (c) {
	case CMD_OPT_PEER:
		if (peers->n >= CMD_MAX_PEER_ARGS) {
			cmd_error("too many --peer options");
			return -1;
		}
		peers->arg[peers->n++] = arg;
		return 1;
	case CMD_OPT_PORT:
		if ((v = cmd_parse_num(arg, 65535)) < 0) {
			cmd_error("invalid port '%s'", arg);
			return -1;
		}
		cfg->port = (uint16_t)v;
		return 1;
	case CMD_OPT_BIND:
		cfg->bind_addr = arg;
		return 1;
	case CMD_OPT_MAX_PEERS:
		if ((v = cmd_parse_num(arg, 10000)) <= 0) {
			cmd_error("invalid --max-peers '%s'", arg);
			return -1;
		}
		cfg->max_peers = (unsigned)v;
		return 1;
	case CMD_OPT_MAX_DOWN:
	case CMD_OPT_MAX_UP:
		if (ratelimit_parse(arg, c == CMD_OPT_MAX_DOWN ? &cfg->max_down : &cfg->max_up,
				    NULL) < 0) {
			cmd_error("invalid rate '%s' (e.g. 500K, 2M)", arg);
			return -1;
		}
		return 1;
	case CMD_OPT_SLOTS:
		if ((v = cmd_parse_num(arg, 1000)) <= 0) {
			cmd_error("invalid --slots '%s'", arg);
			return -1;
		}
		cfg->upload_slots = (unsigned)v;
		return 1;
	}
	return 0;
}

int
cmd_add_peers(struct torrent *t, const struct cmd_peers *peers)
{
	size_t i;

	for (i = 0; i < peers->n; i++) {
		if (cmd_add_peer(t, peers->arg[i]) < 0) {
			cmd_error("cannot use peer '%s' (expected HOST:PORT)", peers->arg[i]);
			return -1;
		}
	}
	return 0;
}

int
cmd_http_setup(struct http *h, const struct torrent_config *cfg)
{
	const char *ca = getenv("CURL_CA_BUNDLE");

	if (cfg->bind_addr != NULL && http_set_local_address(h, cfg->bind_addr) < 0) {
		cmd_error("invalid --bind address '%s'", cfg->bind_addr);
		return CMD_EXIT_USAGE;
	}
	if (ca != NULL && *ca != '\0' && http_set_ca_file(h, ca) < 0) {
		cmd_error("out of memory");
		return CMD_EXIT_FAIL;
	}
	return 0;
}
