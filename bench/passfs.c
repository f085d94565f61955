/*
 * bench/passfs.c: the cheapest FUSE filesystem we can write that serves a
 * file the way `pieces mount` serves one still downloading, for the
 * streaming benchmark's "FUSE floor" row. It shows one local file, read-only,
 * at the root of the mount and does nothing else: no engine, no picker, no
 * waiting, one thread, libfuse's own session loop.
 *
 * What it copies from pieces is what a reader sees of an incomplete file:
 * direct I/O (every read() is one request, as pieces must do to park reads
 * and let a signal interrupt them) and st_blocks below the size (pieces
 * counts verified bytes there), which makes cp treat the file as sparse and
 * read it 128 KiB at a time. A cp through this mount is as cheap as a cp
 * through any FUSE filesystem can be under those two rules, so a download
 * beside it measures how close to the download alone a cp from a mount can
 * get on this machine.
 *
 *   passfs [--dense] [--cache] [--copy] FILE MOUNTPOINT
 *
 * --dense  st_blocks covers the whole size (cp then reads st_blksize, 512 KiB)
 * --cache  page cache instead of direct I/O (kernel readahead, bigger requests)
 * --copy   pread() into a buffer and reply from it instead of splicing
 *
 * Bench tooling only: not installed, not part of pieces.
 */
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASS_INO      2
#define PASS_BLKSIZE  (512 * 1024)
#define PASS_MAX_READ (1024 * 1024)

struct pass {
	int fd;
	const char *name;
	off_t size;
	int dense, cache, copy;
	char *buf;
};

static void
pass_stat(struct pass *p, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_blksize = PASS_BLKSIZE;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return;
	}
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = p->size;
	/* An incomplete file in pieces: fewer blocks than the size needs. */
	st->st_blocks = p->dense ? (p->size + 511) / 512 : 0;
}

static void
pass_init(void *data, struct fuse_conn_info *conn)
{
	struct pass *p = data;

	if (!p->copy)
		conn->want |= conn->capable & FUSE_CAP_SPLICE_WRITE;
	/* libfuse derives max_pages, the read limit too, from it (as pieces does). */
	conn->max_write = PASS_MAX_READ;
}

static void
pass_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pass *p = fuse_req_userdata(req);
	struct fuse_entry_param e;

	if (parent != FUSE_ROOT_ID || strcmp(name, p->name) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = PASS_INO;
	e.attr_timeout = e.entry_timeout = 1.0;
	pass_stat(p, PASS_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void
pass_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pass *p = fuse_req_userdata(req);
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != PASS_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pass_stat(p, ino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

static void
pass_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pass *p = fuse_req_userdata(req);
	char buf[1024];
	const char *names[] = {".", "..", p->name};
	fuse_ino_t inos[] = {FUSE_ROOT_ID, FUSE_ROOT_ID, PASS_INO};
	size_t used = 0;
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	for (off_t i = off < 0 ? 0 : off; i < 3; i++) {
		size_t n;

		pass_stat(p, inos[i], &st);
		n = fuse_add_direntry(req, buf + used, size - used, names[i], &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void
pass_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pass *p = fuse_req_userdata(req);

	if (ino != PASS_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	fi->direct_io = !p->cache;
	fi->keep_cache = p->cache;
	fuse_reply_open(req, fi);
}

static void
pass_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pass *p = fuse_req_userdata(req);
	ssize_t n;

	(void)ino;
	(void)fi;
	if (off >= p->size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if ((off_t)size > p->size - off)
		size = p->size - off;
	if (!p->copy) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
		bv.buf[0].fd = p->fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	if (size > PASS_MAX_READ)
		size = PASS_MAX_READ;
	n = pread(p->fd, p->buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, p->buf, n);
}

static const struct fuse_lowlevel_ops pass_ops = {
    .init = pass_init,
    .lookup = pass_lookup,
    .getattr = pass_getattr,
    .readdir = pass_readdir,
    .open = pass_open,
    .read = pass_read,
};

int
main(int argc, char **argv)
{
	struct pass p = {0};
	char *fuse_argv[] = {argv[0], "-o", "ro,default_permissions,fsname=passfs", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
	struct fuse_session *se;
	struct stat st;
	const char *file, *mnt;
	int i = 1, rc = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--dense") == 0)
			p.dense = 1;
		else if (strcmp(argv[i], "--cache") == 0)
			p.cache = 1;
		else if (strcmp(argv[i], "--copy") == 0)
			p.copy = 1;
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: passfs [--dense] [--cache] [--copy] FILE MOUNTPOINT\n");
		return 2;
	}
	file = argv[i];
	mnt = argv[i + 1];
	p.fd = open(file, O_RDONLY);
	if (p.fd < 0 || fstat(p.fd, &st) < 0) {
		perror(file);
		return 1;
	}
	p.size = st.st_size;
	p.name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	p.buf = malloc(PASS_MAX_READ);
	if (p.buf == NULL)
		return 1;
	se = fuse_session_new(&args, &pass_ops, sizeof(pass_ops), &p);
	if (se == NULL)
		return 1;
	if (fuse_set_signal_handlers(se) == 0) {
		if (fuse_session_mount(se, mnt) == 0) {
			/* Single-threaded like pieces' loop; the bench waits for the file. */
			rc = fuse_session_loop(se) != 0;
			fuse_session_unmount(se);
		}
		fuse_remove_signal_handlers(se);
	}
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	free(p.buf);
	close(p.fd);
	return rc;
}
