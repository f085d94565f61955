/*
 * cmd: the CLI's subcommands. Each takes argc/argv after the subcommand
 * name and returns the process exit status; it prints its own messages.
 */
#ifndef PIECES_CMD_H
#define PIECES_CMD_H

#define CMD_EXIT_OK 0
#define CMD_EXIT_FAIL 1
#define CMD_EXIT_USAGE 2

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
