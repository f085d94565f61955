/*
 * Tests for storage: torrents are described by hand-built struct metainfo
 * over generated data (pad regions zero, like real BEP 47 torrents), stored
 * under a fresh temporary folder, and checked against the files on disk.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha1.h"
#include "storage.h"

struct tor {
	struct metainfo mi;
	uint8_t *data; /* the whole stream */
	char root[64]; /* temporary folder */
	char dl[128];  /* download folder, root/dl */
};

static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
set_path(struct metainfo_file *f, const char *path)
{
	const char *c = path, *slash;
	size_t n = 0;

	f->path = strdup(path);
	f->components = calloc(16, sizeof *f->components);
	cr_assert(f->path != NULL && f->components != NULL);
	do {
		slash = strchr(c, '/');
		f->components[n] = slash ? strndup(c, (size_t)(slash - c)) : strdup(c);
		cr_assert_not_null(f->components[n]);
		n++;
		c = slash + 1;
	} while (slash != NULL);
	f->ncomponents = n;
}

/*
 * Builds a torrent of n files. names[i] may be NULL for "t/d<i%3>/f<i>";
 * pads[] may be NULL for none.
 */
static void
tor_build(struct tor *t, const uint64_t *lens, const int *pads, const char **names, size_t n,
	  uint32_t piece_len, uint64_t seed)
{
	uint64_t off = 0, i;
	uint32_t p;
	char path[64];

	memset(t, 0, sizeof *t);
	rng_state = seed;
	t->mi.files = calloc(n, sizeof *t->mi.files);
	cr_assert_not_null(t->mi.files);
	t->mi.nfiles = n;
	t->mi.multi_file = 1;
	for (i = 0; i < n; i++) {
		struct metainfo_file *f = &t->mi.files[i];

		if (names != NULL && names[i] != NULL)
			set_path(f, names[i]);
		else if (pads != NULL && pads[i]) {
			snprintf(path, sizeof path, "t/.pad/%llu", (unsigned long long)i);
			set_path(f, path);
		} else {
			snprintf(path, sizeof path, "t/d%llu/f%llu", (unsigned long long)(i % 3),
				 (unsigned long long)i);
			set_path(f, path);
		}
		f->length = lens[i];
		f->offset = off;
		f->pad = pads != NULL && pads[i];
		off += lens[i];
	}
	t->mi.total_length = off;
	t->mi.piece_length = piece_len;
	t->mi.piece_count = (uint32_t)(off / piece_len + (off % piece_len != 0));
	t->data = malloc(off);
	cr_assert_not_null(t->data);
	for (i = 0; i < off; i++)
		t->data[i] = (uint8_t)(rng() >> 32);
	for (i = 0; i < n; i++) {
		if (t->mi.files[i].pad)
			memset(t->data + t->mi.files[i].offset, 0, t->mi.files[i].length);
	}
	t->mi.piece_hashes = malloc((size_t)t->mi.piece_count * SHA1_LEN);
	cr_assert_not_null(t->mi.piece_hashes);
	for (p = 0; p < t->mi.piece_count; p++) {
		uint64_t po = (uint64_t)p * piece_len;
		uint64_t len = off - po < piece_len ? off - po : piece_len;

		sha1_digest(t->data + po, len, t->mi.piece_hashes + (size_t)p * SHA1_LEN);
	}
	snprintf(t->root, sizeof t->root, "/tmp/storage-test-XXXXXX");
	cr_assert_not_null(mkdtemp(t->root));
	snprintf(t->dl, sizeof t->dl, "%s/dl", t->root);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
tor_free(struct tor *t)
{
	size_t i, k;

	for (i = 0; i < t->mi.nfiles; i++) {
		for (k = 0; k < t->mi.files[i].ncomponents; k++)
			free(t->mi.files[i].components[k]);
		free(t->mi.files[i].components);
		free(t->mi.files[i].path);
	}
	free(t->mi.files);
	free(t->mi.piece_hashes);
	free(t->data);
	nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct storage *
tor_open(struct tor *t)
{
	struct storage *st = NULL;
	struct error err = {0};
	int rc = storage_open(&st, &t->mi, t->dl, &err);

	cr_assert_eq(rc, 0, "storage_open: %s", err.msg);
	cr_assert_not_null(st);
	return st;
}

static uint32_t
piece_size(const struct tor *t, uint32_t p)
{
	uint64_t po = (uint64_t)p * t->mi.piece_length;

	return (uint32_t)(t->mi.total_length - po < t->mi.piece_length ? t->mi.total_length - po
								       : t->mi.piece_length);
}

static void
write_piece(struct storage *st, const struct tor *t, uint32_t p)
{
	uint64_t po = (uint64_t)p * t->mi.piece_length;
	int rc = storage_write(st, po, t->data + po, piece_size(t, p));

	cr_assert_eq(rc, 0, "write piece %u: %s", p, strerror(-rc));
}

/* The file's bytes on disk, or NULL (size -1) when it does not exist. */
static uint8_t *
slurp(const struct tor *t, size_t file, ssize_t *size)
{
	char path[512];
	struct stat sb;
	uint8_t *p;
	int fd;

	snprintf(path, sizeof path, "%s/%s", t->dl, t->mi.files[file].path);
	fd = open(path, O_RDONLY);
	*size = -1;
	if (fd < 0)
		return NULL;
	cr_assert_eq(fstat(fd, &sb), 0);
	p = malloc((size_t)sb.st_size + 1);
	cr_assert_not_null(p);
	*size = pread(fd, p, (size_t)sb.st_size, 0);
	cr_assert_eq(*size, sb.st_size);
	close(fd);
	return p;
}

static int
exists(const struct tor *t, const char *rel)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof path, "%s/%s", t->dl, rel);
	return lstat(path, &sb) == 0;
}

static int
bit(const uint8_t *bf, uint32_t p)
{
	return (bf[p / 8] >> (7 - p % 8)) & 1;
}

Test(storage, round_trip_multi_file)
{
	/* 7 pieces, the last one short (10030 bytes); two 0-byte files. */
	const uint64_t lens[] = {5000, 0, 70000, 1, 33333, 0};
	struct storage *st;
	struct tor t;
	uint8_t *back, *disk;
	uint64_t pos;
	ssize_t size;
	uint32_t p;
	size_t i;

	tor_build(&t, lens, NULL, NULL, 6, 16384, 1);
	cr_assert_eq(t.mi.piece_count, 7);
	st = tor_open(&t);
	cr_assert_eq(storage_piece_count(st), 7);
	cr_assert_eq(storage_file_count(st), 6);
	/* The empty files exist as soon as the storage is opened. */
	cr_assert(exists(&t, "t/d1/f1"));
	cr_assert(exists(&t, "t/d2/f5"));
	cr_assert(!exists(&t, "t/d0/f0"));

	/* Odd-sized chunks, last to first, straddling file and piece edges. */
	pos = t.mi.total_length;
	while (pos > 0) {
		uint64_t n = pos < 3001 ? pos : 3001;

		pos -= n;
		cr_assert_eq(storage_write(st, pos, t.data + pos, n), 0);
	}
	back = malloc(t.mi.total_length);
	cr_assert_eq(storage_read(st, 0, back, t.mi.total_length), 0);
	cr_assert_arr_eq(back, t.data, t.mi.total_length);
	/* A read across the 1-byte file and two file boundaries. */
	cr_assert_eq(storage_read(st, 74990, back, 30), 0);
	cr_assert_arr_eq(back, t.data + 74990, 30);
	for (p = 0; p < 7; p++)
		cr_assert_eq(storage_verify_piece(st, p), 1, "piece %u", p);
	cr_assert_eq(storage_sync(st), 0);
	storage_close(st);

	for (i = 0; i < 6; i++) {
		disk = slurp(&t, i, &size);
		cr_assert_not_null(disk, "file %zu missing", i);
		cr_assert_eq((uint64_t)size, lens[i]);
		cr_assert_arr_eq(disk, t.data + t.mi.files[i].offset, lens[i]);
		free(disk);
	}
	free(back);
	tor_free(&t);
}

Test(storage, single_file_at_top_level)
{
	const uint64_t lens[] = {40000};
	const char *names[] = {"single.bin"};
	struct storage *st;
	struct tor t;
	uint8_t *disk;
	ssize_t size;

	tor_build(&t, lens, NULL, names, 1, 32768, 2);
	t.mi.multi_file = 0;
	st = tor_open(&t);
	write_piece(st, &t, 1);
	write_piece(st, &t, 0);
	cr_assert_eq(storage_verify_piece(st, 0), 1);
	cr_assert_eq(storage_verify_piece(st, 1), 1);
	storage_close(st);
	disk = slurp(&t, 0, &size);
	cr_assert_eq(size, 40000);
	cr_assert_arr_eq(disk, t.data, 40000);
	free(disk);
	tor_free(&t);
}

Test(storage, never_written_reads_zero_and_files_are_sparse)
{
	const uint64_t lens[] = {50000, 50000, 50000};
	uint8_t *back, *zero;
	struct storage *st;
	struct tor t;
	struct stat sb;
	char path[512];
	uint64_t po;

	tor_build(&t, lens, NULL, NULL, 3, 16384, 3);
	st = tor_open(&t);
	back = malloc(t.mi.total_length);
	zero = calloc(t.mi.total_length, 1);
	memset(back, 0xee, t.mi.total_length);
	cr_assert_eq(storage_read(st, 0, back, t.mi.total_length), 0);
	cr_assert_arr_eq(back, zero, t.mi.total_length);
	cr_assert(!exists(&t, "t"), "reading must not create anything");

	/* Piece 4 is bytes 65536..81919, inside file 1. */
	write_piece(st, &t, 4);
	memset(back, 0xee, t.mi.total_length);
	cr_assert_eq(storage_read(st, 0, back, t.mi.total_length), 0);
	po = 4 * 16384;
	cr_assert_arr_eq(back, zero, po);
	cr_assert_arr_eq(back + po, t.data + po, 16384);
	cr_assert_arr_eq(back + po + 16384, zero, t.mi.total_length - po - 16384);
	cr_assert_eq(storage_verify_piece(st, 4), 1);
	cr_assert_eq(storage_verify_piece(st, 3), 0);

	/* The written file has its full length at once; the others do not exist. */
	snprintf(path, sizeof path, "%s/t/d1/f1", t.dl);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_size, 50000);
	cr_assert(!exists(&t, "t/d0/f0"));
	cr_assert(!exists(&t, "t/d2/f2"));

	/* Cut behind storage's back: past the new end reads zeros too. */
	cr_assert_eq(truncate(path, 20000), 0);
	memset(back, 0xee, 16384);
	cr_assert_eq(storage_read(st, po, back, 16384), 0);
	cr_assert_arr_eq(back, t.data + po, 20000 - 15536);
	cr_assert_arr_eq(back + 20000 - 15536, zero, 16384 - (20000 - 15536));
	storage_close(st);
	free(back);
	free(zero);
	tor_free(&t);
}

Test(storage, verify_detects_corruption)
{
	const uint64_t lens[] = {30000, 30000};
	uint8_t md[SHA1_LEN], c;
	struct storage *st;
	char path[512];
	struct tor t;
	uint32_t p;
	int fd;

	tor_build(&t, lens, NULL, NULL, 2, 16384, 4);
	st = tor_open(&t);
	for (p = 0; p < t.mi.piece_count; p++)
		write_piece(st, &t, p);
	cr_assert_eq(storage_hash_piece(st, 2, md), 0);
	cr_assert_arr_eq(md, t.mi.piece_hashes + 2 * SHA1_LEN, SHA1_LEN);

	/* Flip one byte of file 1 at offset 10: stream byte 30010, piece 1. */
	snprintf(path, sizeof path, "%s/t/d1/f1", t.dl);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &c, 1, 10), 1);
	c ^= 0x01;
	cr_assert_eq(pwrite(fd, &c, 1, 10), 1);
	close(fd);
	cr_assert_eq(storage_verify_piece(st, 0), 1);
	cr_assert_eq(storage_verify_piece(st, 1), 0);
	cr_assert_eq(storage_verify_piece(st, 2), 1);
	cr_assert_eq(storage_verify_piece(st, 3), 1);
	storage_close(st);
	tor_free(&t);
}

struct progress {
	uint32_t calls, last, total;
	uint32_t stop_at;
};

static int
on_progress(void *arg, uint32_t done, uint32_t total)
{
	struct progress *pr = arg;

	pr->calls++;
	cr_assert_gt(done, pr->last, "done must grow");
	pr->last = done;
	pr->total = total;
	return pr->stop_at != 0 && done >= pr->stop_at;
}

static void
check_recheck(struct storage *st, const struct tor *t, const uint8_t *written, unsigned nthreads)
{
	uint32_t count = t->mi.piece_count, p;
	size_t blen = count / 8 + 1;
	uint8_t *have = malloc(blen);
	struct progress pr = {0};

	memset(have, 0xff, blen);
	cr_assert_eq(storage_recheck(st, nthreads, have, on_progress, &pr), 0);
	for (p = 0; p < count; p++)
		cr_assert_eq(bit(have, p), written[p], "piece %u: have %d written %d", p,
			     bit(have, p), written[p]);
	/* Spare bits are cleared and the byte after the bitfield untouched. */
	for (p = count; p < (count + 7) / 8 * 8; p++)
		cr_assert_eq(bit(have, p), 0);
	if (count % 8 == 0)
		cr_assert_eq(have[count / 8], 0xff);
	cr_assert_eq(pr.calls, count);
	cr_assert_eq(pr.last, count);
	cr_assert_eq(pr.total, count);
	free(have);
}

Test(storage, recheck_finds_exactly_the_written_pieces)
{
	uint64_t lens[9];
	uint8_t written[256] = {0};
	struct storage *st;
	struct tor t;
	uint32_t p, nwritten = 0;
	size_t i;

	rng_state = 99;
	for (i = 0; i < 9; i++)
		lens[i] = i == 4 ? 0 : 20000 + rng() % 300000;
	tor_build(&t, lens, NULL, NULL, 9, 16384, 5);
	cr_assert_lt(t.mi.piece_count, 256);
	st = tor_open(&t);
	/* A random half, so some files stay absent and others half full. */
	for (p = 0; p < t.mi.piece_count; p++) {
		if (rng() % 2) {
			written[p] = 1;
			nwritten++;
			write_piece(st, &t, p);
		}
	}
	cr_assert(nwritten > 0 && nwritten < t.mi.piece_count);
	check_recheck(st, &t, written, 2);
	check_recheck(st, &t, written, 1);
	check_recheck(st, &t, written, 1000);
	storage_close(st);

	/* A fresh storage over the same folder sees the same. */
	st = tor_open(&t);
	check_recheck(st, &t, written, 2);
	storage_close(st);
	tor_free(&t);
}

Test(storage, recheck_skips_pieces_of_missing_or_short_files)
{
	const uint64_t lens[] = {16384, 16384, 16384};
	uint8_t written[3] = {1, 0, 1};
	struct storage *st;
	char path[512];
	struct tor t;

	tor_build(&t, lens, NULL, NULL, 3, 16384, 6);
	/*
	 * End file 2 with a zero byte: once the file is cut short, reading
	 * would zero-fill it and the piece would verify. Only the size check
	 * keeps it out.
	 */
	t.data[3 * 16384 - 1] = 0;
	sha1_digest(t.data + 2 * 16384, 16384, t.mi.piece_hashes + 2 * SHA1_LEN);
	st = tor_open(&t);
	write_piece(st, &t, 0);
	write_piece(st, &t, 2);
	check_recheck(st, &t, written, 2);
	/* Cut file 2 short: its piece is now missing, though a read would verify. */
	snprintf(path, sizeof path, "%s/t/d2/f2", t.dl);
	cr_assert_eq(truncate(path, 16383), 0);
	cr_assert_eq(storage_verify_piece(st, 2), 1);
	written[2] = 0;
	check_recheck(st, &t, written, 2);
	cr_assert(!exists(&t, "t/d1/f1"), "recheck must not create files");
	storage_close(st);
	tor_free(&t);
}

Test(storage, recheck_can_be_cancelled)
{
	const uint64_t lens[] = {200000};
	struct progress pr = {.stop_at = 3};
	struct storage *st;
	uint8_t have[2];
	struct tor t;
	uint32_t p;

	tor_build(&t, lens, NULL, NULL, 1, 16384, 7);
	st = tor_open(&t);
	for (p = 0; p < t.mi.piece_count; p++)
		write_piece(st, &t, p);
	cr_assert_eq(storage_recheck(st, 1, have, on_progress, &pr), -ECANCELED);
	cr_assert_eq(pr.calls, 3);
	/* One thread goes in order: pieces 0-2 verified, nothing else. */
	cr_assert_eq(have[0], 0xe0);
	cr_assert_eq(have[1], 0);
	storage_close(st);
	tor_free(&t);
}

Test(storage, symlink_inside_the_folder_is_not_followed)
{
	const uint64_t lens[] = {20000, 20000};
	const char *names[] = {"t/sub/a", "t/b"};
	char outside[128], outside_file[160], path[512];
	uint8_t buf[100], secret[6];
	struct storage *st;
	uint64_t size;
	int64_t mtime;
	DIR *d;
	struct dirent *e;
	struct tor t;
	int n = 0, fd;

	tor_build(&t, lens, NULL, names, 2, 16384, 8);
	snprintf(outside, sizeof outside, "%s/outside", t.root);
	snprintf(outside_file, sizeof outside_file, "%s/secret", t.root);
	cr_assert_eq(mkdir(outside, 0755), 0);
	fd = open(outside_file, O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(write(fd, "secret", 6), 6);
	close(fd);
	/* dl/t/sub -> ../../outside and dl/t/b -> ../../secret */
	snprintf(path, sizeof path, "%s/t", t.dl);
	cr_assert_eq(mkdir(t.dl, 0755), 0);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/t/sub", t.dl);
	cr_assert_eq(symlink(outside, path), 0);
	snprintf(path, sizeof path, "%s/t/b", t.dl);
	cr_assert_eq(symlink(outside_file, path), 0);

	st = tor_open(&t);
	cr_assert_lt(storage_write(st, 0, t.data, 20000), 0, "write through a folder symlink");
	cr_assert_lt(storage_write(st, 20000, t.data + 20000, 20000), 0,
		     "write through a file symlink");
	cr_assert_lt(storage_read(st, 20000, buf, sizeof buf), 0);
	cr_assert_lt(storage_read(st, 0, buf, sizeof buf), 0);
	cr_assert_eq(storage_file_stat(st, 1, &size, &mtime), -ELOOP);
	cr_assert_lt(storage_file_stat(st, 0, &size, &mtime), 0);
	cr_assert_eq(storage_verify_piece(st, 0) == 1, 0);
	storage_close(st);

	/* Nothing reached the targets. */
	d = opendir(outside);
	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	cr_assert_eq(n, 0);
	fd = open(outside_file, O_RDONLY);
	cr_assert_eq(read(fd, secret, sizeof secret), 6);
	close(fd);
	cr_assert_arr_eq(secret, "secret", 6);
	tor_free(&t);
}

Test(storage, fifo_is_refused_without_hanging)
{
	const uint64_t lens[] = {1000};
	const char *names[] = {"fifo"};
	struct storage *st;
	char path[512];
	uint8_t buf[10];
	struct tor t;

	tor_build(&t, lens, NULL, names, 1, 16384, 9);
	cr_assert_eq(mkdir(t.dl, 0755), 0);
	snprintf(path, sizeof path, "%s/fifo", t.dl);
	cr_assert_eq(mkfifo(path, 0644), 0);
	st = tor_open(&t);
	cr_assert_eq(storage_read(st, 0, buf, sizeof buf), -EINVAL);
	cr_assert_eq(storage_write(st, 0, t.data, 1000), -EINVAL);
	storage_close(st);
	tor_free(&t);
}

Test(storage, padding_files_are_never_created)
{
	const uint64_t lens[] = {10000, 6384, 20000};
	const int pads[] = {0, 1, 0};
	uint8_t junk[6384], back[6384], zero[6384] = {0};
	struct storage *st;
	uint64_t size;
	int64_t mtime;
	struct tor t;
	uint32_t p;

	tor_build(&t, lens, pads, NULL, 3, 16384, 10);
	st = tor_open(&t);
	for (p = 0; p < t.mi.piece_count; p++)
		write_piece(st, &t, p);
	memset(junk, 0x5a, sizeof junk);
	cr_assert_eq(storage_write(st, 10000, junk, sizeof junk), 0);
	memset(back, 0xee, sizeof back);
	cr_assert_eq(storage_read(st, 10000, back, sizeof back), 0);
	cr_assert_arr_eq(back, zero, sizeof zero);
	for (p = 0; p < t.mi.piece_count; p++)
		cr_assert_eq(storage_verify_piece(st, p), 1);
	cr_assert(!exists(&t, "t/.pad"));
	cr_assert(exists(&t, "t/d0/f0"));
	cr_assert(exists(&t, "t/d2/f2"));
	cr_assert_eq(storage_file_stat(st, 1, &size, &mtime), -ENOENT);
	storage_close(st);
	tor_free(&t);
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

Test(storage, fd_cache_over_its_limit)
{
	uint64_t lens[200];
	uint8_t *have, *back;
	struct storage *st;
	struct tor t;
	uint32_t p;
	int before;
	size_t i;

	for (i = 0; i < 200; i++)
		lens[i] = 1000;
	tor_build(&t, lens, NULL, NULL, 200, 4096, 11);
	before = count_fds();
	st = tor_open(&t);
	for (p = 0; p < t.mi.piece_count; p++)
		write_piece(st, &t, p);
	cr_assert_leq(count_fds(), before + STORAGE_MAX_FDS + 1);
	back = malloc(t.mi.total_length);
	cr_assert_eq(storage_read(st, 0, back, t.mi.total_length), 0);
	cr_assert_arr_eq(back, t.data, t.mi.total_length);
	/* Every file was written, most through descriptors since evicted. */
	cr_assert_eq(storage_sync(st), 0);
	have = malloc(t.mi.piece_count / 8 + 1);
	cr_assert_eq(storage_recheck(st, 2, have, NULL, NULL), 0);
	for (p = 0; p < t.mi.piece_count; p++)
		cr_assert_eq(bit(have, p), 1, "piece %u", p);
	cr_assert_leq(count_fds(), before + STORAGE_MAX_FDS + 1);
	storage_close(st);
	cr_assert_eq(count_fds(), before);
	free(have);
	free(back);
	tor_free(&t);
}

struct writer {
	struct storage *st;
	const struct tor *t;
	unsigned k, n;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	uint32_t p;
	uint8_t md[SHA1_LEN];

	for (p = w->k; p < w->t->mi.piece_count; p += w->n) {
		uint64_t po = (uint64_t)p * w->t->mi.piece_length;

		if (storage_write(w->st, po, w->t->data + po, piece_size(w->t, p)) != 0)
			return (void *)1;
		if (storage_hash_piece(w->st, p, md) != 0 ||
		    memcmp(md, w->t->mi.piece_hashes + (size_t)p * SHA1_LEN, SHA1_LEN) != 0)
			return (void *)1;
	}
	return NULL;
}

Test(storage, concurrent_threads_share_the_cache)
{
	uint64_t lens[300];
	struct writer w[4];
	pthread_t th[4];
	struct storage *st;
	struct tor t;
	void *res;
	uint32_t p;
	size_t i;

	rng_state = 12;
	for (i = 0; i < 300; i++)
		lens[i] = 1 + rng() % 3000;
	tor_build(&t, lens, NULL, NULL, 300, 2048, 13);
	st = tor_open(&t);
	for (i = 0; i < 4; i++) {
		w[i] = (struct writer){st, &t, (unsigned)i, 4};
		cr_assert_eq(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		cr_assert_eq(pthread_join(th[i], &res), 0);
		cr_assert_null(res, "thread %zu failed", i);
	}
	for (p = 0; p < t.mi.piece_count; p++)
		cr_assert_eq(storage_verify_piece(st, p), 1);
	storage_close(st);
	tor_free(&t);
}

Test(storage, rejects_out_of_range)
{
	const uint64_t lens[] = {1000, 1000};
	uint8_t buf[16], md[SHA1_LEN];
	struct storage *st;
	uint64_t size;
	int64_t mtime;
	struct tor t;

	tor_build(&t, lens, NULL, NULL, 2, 16384, 14);
	st = tor_open(&t);
	cr_assert_eq(storage_write(st, 1990, buf, 16), -EINVAL);
	cr_assert_eq(storage_read(st, 2000, buf, 1), -EINVAL);
	cr_assert_eq(storage_read(st, UINT64_MAX, buf, 16), -EINVAL);
	cr_assert_eq(storage_write(st, 2000, buf, 0), 0);
	cr_assert_eq(storage_hash_piece(st, 1, md), -EINVAL);
	cr_assert_eq(storage_verify_piece(st, 1), -EINVAL);
	cr_assert_eq(storage_file_stat(st, 2, &size, &mtime), -EINVAL);
	cr_assert_eq(storage_file_stat(st, 0, &size, &mtime), -ENOENT);
	cr_assert_eq(storage_write(st, 0, t.data, 2000), 0);
	cr_assert_eq(storage_file_stat(st, 1, &size, &mtime), 0);
	cr_assert_eq(size, 1000);
	cr_assert_gt(mtime, 0);
	storage_close(st);
	storage_close(NULL);
	tor_free(&t);
}

Test(storage, open_fails_cleanly)
{
	const uint64_t lens[] = {1000, 0};
	struct storage *st = (struct storage *)&st;
	struct error err = {0};
	char path[512];
	struct tor t;
	int fd;

	tor_build(&t, lens, NULL, NULL, 2, 16384, 15);
	/* The download folder is a regular file. */
	fd = open(t.dl, O_WRONLY | O_CREAT, 0644);
	close(fd);
	cr_assert_eq(storage_open(&st, &t.mi, t.dl, &err), -ERR_IO);
	cr_assert_null(st);
	cr_assert_eq(err.code, ERR_IO);
	cr_assert_neq(strstr(err.msg, "download folder"), NULL, "%s", err.msg);
	unlink(t.dl);
	/* The empty file cannot be created: a file sits where its folder goes. */
	cr_assert_eq(mkdir(t.dl, 0755), 0);
	snprintf(path, sizeof path, "%s/t", t.dl);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	close(fd);
	cr_assert_eq(storage_open(&st, &t.mi, t.dl, &err), -ERR_IO);
	cr_assert_neq(strstr(err.msg, "t/d1/f1"), NULL, "%s", err.msg);
	/* Inconsistent metainfo. */
	unlink(path);
	t.mi.piece_count++;
	cr_assert_eq(storage_open(&st, &t.mi, t.dl, &err), -ERR_INVALID);
	t.mi.piece_count--;
	tor_free(&t);
}

/*
 * Large aligned writes take the O_DIRECT path (on file systems that allow
 * it), unaligned ones the page cache; both must land byte for byte, also
 * when one file mixes them and when the last piece is short.
 */
Test(storage, direct_and_buffered_writes_agree)
{
	uint64_t lens[2] = {3 * 65536 + 4095, 65536 * 2 + 17};
	struct storage *st;
	struct tor t;
	uint8_t *aligned, *back;
	uint32_t p;

	tor_build(&t, lens, NULL, NULL, 2, 65536, 21);
	st = tor_open(&t);
	cr_assert_eq(posix_memalign((void **)&aligned, 4096, 65536), 0);
	for (p = 0; p < t.mi.piece_count; p++) {
		uint64_t po = (uint64_t)p * t.mi.piece_length;
		uint32_t len = piece_size(&t, p);

		/* Even pieces from a page-aligned copy, odd ones from t.data + 1 byte off. */
		if (p % 2 == 0) {
			memcpy(aligned, t.data + po, len);
			cr_assert_eq(storage_write(st, po, aligned, len), 0);
		} else {
			uint8_t *odd = malloc(len + 1);

			memcpy(odd + 1, t.data + po, len);
			cr_assert_eq(storage_write(st, po, odd + 1, len), 0);
			free(odd);
		}
	}
	back = malloc(t.mi.total_length);
	cr_assert_eq(storage_read(st, 0, back, t.mi.total_length), 0);
	cr_assert_arr_eq(back, t.data, t.mi.total_length);
	for (p = 0; p < t.mi.piece_count; p++)
		cr_assert_eq(storage_verify_piece(st, p), 1, "piece %u", p);
	free(back);
	free(aligned);
	storage_close(st);
	tor_free(&t);
}

Test(storage, lend_gives_the_file_descriptor_under_a_range)
{
	const uint64_t lens[] = {10000, 6384, 20000, 5000};
	const int pads[] = {0, 1, 0, 0};
	struct storage_loan loan;
	struct storage *st;
	uint8_t back[4000];
	char path[256];
	struct tor t;
	uint32_t p;

	tor_build(&t, lens, pads, NULL, 4, 16384, 11);
	st = tor_open(&t);
	/* Nothing written yet: the files do not exist. */
	cr_assert_eq(storage_lend(st, 100, 50, &loan), 1);
	for (p = 0; p < t.mi.piece_count; p++)
		write_piece(st, &t, p);
	/* Inside file 2: its descriptor, at the offset within the file. */
	cr_assert_eq(storage_lend(st, 16384 + 1000, sizeof back, &loan), 0);
	cr_assert_eq(loan.file_off, 1000);
	cr_assert_eq(pread(loan.fd, back, sizeof back, (off_t)loan.file_off), (ssize_t)sizeof back);
	cr_assert_arr_eq(back, t.data + 16384 + 1000, sizeof back);
	storage_give_back(st, &loan);
	/* Across files, in padding, past the end. */
	cr_assert_eq(storage_lend(st, 9000, 2000, &loan), -EXDEV);
	cr_assert_eq(storage_lend(st, 10000, 100, &loan), 1);
	cr_assert_eq(storage_lend(st, t.mi.total_length - 10, 20, &loan), -EINVAL);
	/* A file cut short behind our back is not lent (its bytes read as zeros). */
	snprintf(path, sizeof path, "%s/t/d0/f3", t.dl);
	cr_assert_eq(truncate(path, 100), 0);
	cr_assert_eq(storage_lend(st, 36384 + 50, 40, &loan), 0);
	storage_give_back(st, &loan);
	cr_assert_eq(storage_lend(st, 36384 + 50, 100, &loan), 1);
	storage_close(st);
	tor_free(&t);
}

/* storage_read_direct() of [off, off+len) into a buffer starting at `skew` past a page. */
static void
check_direct(struct storage *st, const struct tor *t, uint64_t off, size_t len, size_t skew)
{
	uint8_t *buf;

	cr_assert_eq(posix_memalign((void **)&buf, 4096, len + skew), 0);
	memset(buf, 0xee, len + skew);
	cr_assert_eq(storage_read_direct(st, off, buf + skew, len), 0, "at %llu",
		     (unsigned long long)off);
	cr_assert_arr_eq(buf + skew, t->data + off, len, "at %llu, %zu bytes",
			 (unsigned long long)off, len);
	free(buf);
}

Test(storage, direct_reads_match_cached_reads)
{
	const uint64_t lens[] = {300000, 5000, 400000};
	uint8_t *buf, *zero;
	struct storage *st;
	char path[256];
	struct tor t;
	uint32_t p;

	tor_build(&t, lens, NULL, NULL, 3, 65536, 12);
	st = tor_open(&t);
	for (p = 0; p < t.mi.piece_count; p++)
		write_piece(st, &t, p);
	check_direct(st, &t, 0, (size_t)t.mi.total_length, 0);
	check_direct(st, &t, 4096, 256u << 10, 0);	   /* aligned everywhere */
	check_direct(st, &t, 100, 128u << 10, 100);	   /* same misalignment */
	check_direct(st, &t, 100, 128u << 10, 0);	   /* different: no O_DIRECT */
	check_direct(st, &t, 290000, 20000, 0);		   /* across the small file */
	check_direct(st, &t, 305000 + 8192, 300000, 3192); /* inside file 2, aligned */

	/* File 2 cut short: the direct read ends early, the rest reads as zeros. */
	snprintf(path, sizeof path, "%s/t/d2/f2", t.dl);
	cr_assert_eq(truncate(path, 100000), 0);
	cr_assert_eq(posix_memalign((void **)&buf, 4096, 300000), 0);
	zero = calloc(1, 300000);
	cr_assert_eq(storage_read_direct(st, 305000 + 8192, buf, 300000), 0);
	cr_assert_arr_eq(buf, t.data + 305000 + 8192, 100000 - 8192);
	cr_assert_arr_eq(buf + 100000 - 8192, zero, 300000 - (100000 - 8192));
	free(buf);
	free(zero);
	storage_close(st);
	tor_free(&t);
}
