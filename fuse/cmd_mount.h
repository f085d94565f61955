/*
 * cmd_mount: `pieces mount FILE.torrent MOUNTPOINT` (see cmd_mount.c).
 * Declared here until src/cmd.h lists it with the other subcommands.
 */
#ifndef PIECES_CMD_MOUNT_H
#define PIECES_CMD_MOUNT_H

int cmd_mount(int argc, char **argv);

#endif
