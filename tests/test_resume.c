/*
 * Tests for resume: save/load round trips, every validation error of the
 * parser (on documents written with the bencode encoder, one field wrong at
 * a time), and resume_matches() against a real storage folder.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bencode.h"
#include "resume.h"

static char root[64];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
make_root(void)
{
	snprintf(root, sizeof root, "/tmp/resume-test-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
}

static void
remove_root(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(resume, .init = make_root, .fini = remove_root);

static const uint8_t HASH[SHA1_LEN] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
				       11, 12, 13, 14, 15, 16, 17, 18, 19, 20};

/* A state for a 13-piece, 3-file torrent with some content. */
static void
sample(struct resume_state *rs)
{
	cr_assert_eq(resume_state_init(rs, HASH, 13, 3), 0);
	rs->have[0] = 0x84; /* pieces 0 and 5 */
	rs->have[1] = 0x08; /* piece 12; the 3 spare bits stay clear */
	rs->files[0] = (struct resume_file){1000, 1700000000, 123456789};
	rs->files[1] = (struct resume_file){-1, 0, 0};
	rs->files[2] = (struct resume_file){0, -5, 999999999};
	rs->uploaded = 1ull << 40;
	rs->downloaded = 77;
}

static void
assert_same(const struct resume_state *a, const struct resume_state *b)
{
	size_t i;

	cr_assert_arr_eq(a->info_hash, b->info_hash, SHA1_LEN);
	cr_assert_eq(a->piece_count, b->piece_count);
	cr_assert_arr_eq(a->have, b->have, resume_have_len(a->piece_count));
	cr_assert_eq(a->nfiles, b->nfiles);
	for (i = 0; i < a->nfiles; i++) {
		cr_assert_eq(a->files[i].size, b->files[i].size, "file %zu", i);
		cr_assert_eq(a->files[i].mtime_sec, b->files[i].mtime_sec, "file %zu", i);
		cr_assert_eq(a->files[i].mtime_nsec, b->files[i].mtime_nsec, "file %zu", i);
	}
	cr_assert_eq(a->uploaded, b->uploaded);
	cr_assert_eq(a->downloaded, b->downloaded);
}

Test(resume, save_load_round_trip)
{
	struct resume_state a, b;
	struct error err = {0};
	char path[128], tmp[160];

	sample(&a);
	snprintf(path, sizeof path, "%s/t.resume", root);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	cr_assert_eq(resume_save(path, &a, &err), 0, "%s", err.msg);
	cr_assert_eq(access(tmp, F_OK), -1, "the temporary file must be gone");
	cr_assert_eq(resume_state_init(&b, HASH, 13, 3), 0);
	cr_assert_eq(resume_load(path, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);

	/* A second save replaces the first. */
	a.uploaded = 5;
	a.have[0] = 0xff;
	cr_assert_eq(resume_save(path, &a, &err), 0, "%s", err.msg);
	cr_assert_eq(resume_load(path, &b, &err), 0, "%s", err.msg);
	assert_same(&a, &b);
	resume_state_free(&a);
	resume_state_free(&b);
	resume_state_free(NULL);
}

Test(resume, encoding_is_canonical)
{
	struct resume_state a;
	struct bencode *v;
	struct buf b1, b2;

	sample(&a);
	buf_init(&b1, 1 << 16);
	buf_init(&b2, 1 << 16);
	cr_assert_eq(resume_encode(&a, &b1), 0);
	v = bencode_decode(b1.data, b1.len, NULL, NULL);
	cr_assert_not_null(v);
	cr_assert_eq(bencode_encode(&b2, v), 0);
	cr_assert_eq(b1.len, b2.len);
	cr_assert_arr_eq(b1.data, b2.data, b1.len, "keys must be written sorted");
	cr_assert_neq(memmem(b1.data, b1.len, "13:pieces-resumei1e", 19), NULL);
	bencode_free(v);
	buf_free(&b1);
	buf_free(&b2);
	resume_state_free(&a);
}

Test(resume, state_init_limits)
{
	struct resume_state rs;

	cr_assert_eq(resume_state_init(&rs, HASH, 0, 1), -ERR_INVALID);
	cr_assert_eq(resume_state_init(&rs, HASH, 1, METAINFO_MAX_FILES + 1), -ERR_INVALID);
	cr_assert_eq(resume_state_init(&rs, HASH, 9, 0), 0);
	cr_assert_eq(resume_have_len(9), 2);
	cr_assert_eq(rs.have[0] | rs.have[1], 0);
	resume_state_free(&rs);
	cr_assert_eq(resume_have_len(8), 1);
}

/* One resume document, each field settable, so tests break one at a time. */
struct doc {
	int64_t version;
	const uint8_t *hash;
	size_t hash_len;
	int64_t piece_count;
	uint8_t have[4];
	size_t have_len;
	size_t nfiles;
	const char *entry; /* raw bencode of every files entry */
	int64_t up, down;
	const char *omit;  /* a key left out */
	const char *extra; /* raw bytes inserted after the last key, before 'e' */
};

static struct doc
good_doc(void)
{
	return (struct doc){
	    .version = 1,
	    .hash = HASH,
	    .hash_len = SHA1_LEN,
	    .piece_count = 13,
	    .have = {0x84, 0x08},
	    .have_len = 2,
	    .nfiles = 3,
	    .entry = "li10ei20ei30ee",
	    .up = 1,
	    .down = 2,
	};
}

static int
keep(const struct doc *d, const char *key)
{
	return d->omit == NULL || strcmp(d->omit, key) != 0;
}

static void
encode_doc(const struct doc *d, struct buf *b)
{
	size_t i;

	buf_reset(b);
	bencode_put_dict(b);
	if (keep(d, "downloaded")) {
		bencode_put_cstr(b, "downloaded");
		bencode_put_int(b, d->down);
	}
	if (keep(d, "files")) {
		bencode_put_cstr(b, "files");
		bencode_put_list(b);
		for (i = 0; i < d->nfiles; i++)
			buf_puts(b, d->entry);
		bencode_put_end(b);
	}
	if (keep(d, "have")) {
		bencode_put_cstr(b, "have");
		bencode_put_str(b, d->have, d->have_len);
	}
	if (keep(d, "info-hash")) {
		bencode_put_cstr(b, "info-hash");
		bencode_put_str(b, d->hash, d->hash_len);
	}
	if (keep(d, "piece-count")) {
		bencode_put_cstr(b, "piece-count");
		bencode_put_int(b, d->piece_count);
	}
	if (keep(d, "pieces-resume")) {
		bencode_put_cstr(b, "pieces-resume");
		bencode_put_int(b, d->version);
	}
	if (keep(d, "uploaded")) {
		bencode_put_cstr(b, "uploaded");
		bencode_put_int(b, d->up);
	}
	if (d->extra != NULL)
		buf_puts(b, d->extra);
	bencode_put_end(b);
}

/* Parses d into a fresh 13-piece, 3-file state; checks the state is untouched on error. */
static int
parse_doc(const struct doc *d, struct error *err)
{
	struct resume_state rs;
	struct buf b;
	int rc;

	buf_init(&b, 1 << 16);
	encode_doc(d, &b);
	cr_assert_eq(resume_state_init(&rs, HASH, 13, 3), 0);
	rs.have[0] = 0x11;
	rs.files[2].size = 42;
	rs.uploaded = 9;
	rc = resume_parse(b.data, b.len, &rs, err);
	if (rc != 0) {
		cr_assert_eq(rs.have[0], 0x11);
		cr_assert_eq(rs.have[1], 0);
		cr_assert_eq(rs.files[2].size, 42);
		cr_assert_eq(rs.uploaded, 9);
	} else {
		cr_assert_eq(rs.have[0], d->have[0]);
		cr_assert_eq(rs.uploaded, (uint64_t)d->up);
	}
	resume_state_free(&rs);
	buf_free(&b);
	return rc;
}

#define EXPECT(d, want, why)                                                                       \
	do {                                                                                       \
		struct error e_ = {0};                                                             \
		int rc_ = parse_doc(&(d), &e_);                                                    \
		cr_assert_eq(rc_, -(want), "%s: got %d (%s)", why, rc_, e_.msg);                   \
		if ((want) != 0)                                                                   \
			cr_assert_eq(e_.code, (want), "%s", why);                                  \
	} while (0)

Test(resume, parser_accepts_the_good_document)
{
	struct doc d = good_doc();

	EXPECT(d, 0, "good");
	d.extra = "9:zz-futurel3:abce";
	EXPECT(d, 0, "unknown key after the known ones");
	d = good_doc();
	d.entry = "li-1ei0ei0ee";
	EXPECT(d, 0, "absent files");
}

Test(resume, parser_refuses_every_bad_field)
{
	const uint8_t other[SHA1_LEN] = {1, 2, 3};
	struct doc d;

	d = good_doc(), d.version = 2;
	EXPECT(d, ERR_UNSUPPORTED, "version 2");
	d = good_doc(), d.version = 0;
	EXPECT(d, ERR_UNSUPPORTED, "version 0");
	d = good_doc(), d.omit = "pieces-resume";
	EXPECT(d, ERR_INVALID, "no version");
	d = good_doc(), d.hash = other;
	EXPECT(d, ERR_INVALID, "another torrent");
	d = good_doc(), d.hash_len = 19;
	EXPECT(d, ERR_INVALID, "short hash");
	d = good_doc(), d.omit = "info-hash";
	EXPECT(d, ERR_INVALID, "no hash");
	d = good_doc(), d.piece_count = 14;
	EXPECT(d, ERR_INVALID, "piece count");
	d = good_doc(), d.piece_count = 13 + (1ll << 32);
	EXPECT(d, ERR_INVALID, "piece count modulo 2^32");
	d = good_doc(), d.have_len = 1;
	EXPECT(d, ERR_INVALID, "short bitfield");
	d = good_doc(), d.have_len = 3;
	EXPECT(d, ERR_INVALID, "long bitfield");
	d = good_doc(), d.have[1] = 0x09;
	EXPECT(d, ERR_INVALID, "spare bit set");
	d = good_doc(), d.omit = "have";
	EXPECT(d, ERR_INVALID, "no bitfield");
	d = good_doc(), d.nfiles = 2;
	EXPECT(d, ERR_INVALID, "too few files");
	d = good_doc(), d.nfiles = 4;
	EXPECT(d, ERR_INVALID, "too many files");
	d = good_doc(), d.omit = "files";
	EXPECT(d, ERR_INVALID, "no files");
	d = good_doc(), d.entry = "li10ei20ee";
	EXPECT(d, ERR_INVALID, "entry of 2");
	d = good_doc(), d.entry = "li10ei20ei30ei40ee";
	EXPECT(d, ERR_INVALID, "entry of 4");
	d = good_doc(), d.entry = "li10e2:20i30ee";
	EXPECT(d, ERR_INVALID, "string in entry");
	d = good_doc(), d.entry = "i10e";
	EXPECT(d, ERR_INVALID, "entry not a list");
	d = good_doc(), d.entry = "li-2ei20ei30ee";
	EXPECT(d, ERR_INVALID, "size -2");
	d = good_doc(), d.entry = "li10ei20ei1000000000ee";
	EXPECT(d, ERR_INVALID, "nsec too large");
	d = good_doc(), d.entry = "li10ei20ei-1ee";
	EXPECT(d, ERR_INVALID, "nsec negative");
	d = good_doc(), d.entry = "li-1ei20ei0ee";
	EXPECT(d, ERR_INVALID, "absent with an mtime");
	d = good_doc(), d.up = -1;
	EXPECT(d, ERR_INVALID, "uploaded < 0");
	d = good_doc(), d.down = -1;
	EXPECT(d, ERR_INVALID, "downloaded < 0");
	d = good_doc(), d.omit = "uploaded";
	EXPECT(d, ERR_INVALID, "no uploaded");
	d = good_doc(), d.omit = "downloaded";
	EXPECT(d, ERR_INVALID, "no downloaded");
	d = good_doc(), d.extra = "9:zz-futurelllllllllllllleeeeeeeeeeeee";
	EXPECT(d, ERR_LIMIT, "too deep");
}

Test(resume, parser_refuses_non_documents)
{
	struct resume_state rs;
	struct error err = {0};
	static const char hash_wrong_type[] =
	    "d10:downloadedi0e5:filesle4:have2:\x84\x00"
	    "9:info-hashi5e11:piece-counti13e13:pieces-resumei1e8:uploadedi0ee";
	static const char pc_wrong[] =
	    "d10:downloadedi0e5:filesle4:have2:\x84\x00"
	    "9:info-hash20:\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d"
	    "\x0e\x0f\x10\x11\x12\x13\x14"
	    "11:piece-counti12e13:pieces-resumei1e8:uploadedi0ee";

	cr_assert_eq(resume_state_init(&rs, HASH, 13, 0), 0);
	cr_assert_eq(resume_parse((const uint8_t *)"", 0, &rs, &err), -ERR_SYNTAX);
	cr_assert_eq(resume_parse((const uint8_t *)"garbage", 7, &rs, &err), -ERR_SYNTAX);
	cr_assert_eq(resume_parse((const uint8_t *)"de", 2, &rs, &err), -ERR_INVALID);
	cr_assert_eq(resume_parse((const uint8_t *)"dexx", 4, &rs, &err), -ERR_SYNTAX);
	cr_assert_eq(resume_parse((const uint8_t *)"le", 2, &rs, &err), -ERR_INVALID);
	cr_assert_eq(resume_parse((const uint8_t *)"i1e", 3, &rs, &err), -ERR_INVALID);
	cr_assert_eq(resume_parse((const uint8_t *)"d13:pieces-resume3:onee", 23, &rs, &err),
		     -ERR_INVALID);
	cr_assert_eq(
	    resume_parse((const uint8_t *)hash_wrong_type, sizeof hash_wrong_type - 1, &rs, NULL),
	    -ERR_INVALID);
	/* The offset points at the wrong value: "i12e". */
	cr_assert_eq(resume_parse((const uint8_t *)pc_wrong, sizeof pc_wrong - 1, &rs, &err),
		     -ERR_INVALID);
	cr_assert_eq(err.offset,
		     (const char *)memmem(pc_wrong, sizeof pc_wrong, "i12e", 4) - pc_wrong,
		     "%lld: %s", err.offset, err.msg);
	cr_assert_neq(strstr(err.msg, "piece-count"), NULL, "%s", err.msg);
	/* The same document with the right count parses, with an empty file list. */
	rs.piece_count = 12;
	cr_assert_eq(resume_parse((const uint8_t *)pc_wrong, sizeof pc_wrong - 1, &rs, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(rs.have[0], 0x84);
	resume_state_free(&rs);
}

Test(resume, load_errors)
{
	struct resume_state rs;
	struct error err = {0};
	char path[128];
	int fd;

	cr_assert_eq(resume_state_init(&rs, HASH, 13, 3), 0);
	snprintf(path, sizeof path, "%s/absent", root);
	cr_assert_eq(resume_load(path, &rs, &err), -ERR_IO);
	cr_assert_neq(strstr(err.msg, "No such file"), NULL, "%s", err.msg);
	cr_assert_eq(resume_load(root, &rs, &err), -ERR_IO);
	snprintf(path, sizeof path, "%s/huge", root);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)RESUME_MAX_FILE_SIZE + 1), 0);
	close(fd);
	cr_assert_eq(resume_load(path, &rs, &err), -ERR_LIMIT);
	snprintf(path, sizeof path, "%s/torn", root);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	cr_assert_eq(write(fd, "d10:downloadedi0e5:fil", 22), 22);
	close(fd);
	cr_assert_eq(resume_load(path, &rs, &err), -ERR_SYNTAX);
	resume_state_free(&rs);
}

Test(resume, save_errors_leave_nothing_behind)
{
	struct resume_state rs;
	struct error err = {0};
	char path[128];

	sample(&rs);
	snprintf(path, sizeof path, "%s/no/such/dir/t.resume", root);
	cr_assert_eq(resume_save(path, &rs, &err), -ERR_IO);
	cr_assert_neq(strstr(err.msg, "temporary"), NULL, "%s", err.msg);
	/* The target is a folder: rename fails and the temporary file is removed. */
	snprintf(path, sizeof path, "%s/adir", root);
	cr_assert_eq(mkdir(path, 0755), 0);
	cr_assert_eq(resume_save(path, &rs, &err), -ERR_IO);
	cr_assert_neq(strstr(err.msg, "rename"), NULL, "%s", err.msg);
	snprintf(path, sizeof path, "%s/adir.tmp", root);
	cr_assert_eq(access(path, F_OK), -1);
	resume_state_free(&rs);
}

/* A 3-file torrent of 1000-byte files, 1024-byte pieces, under root/dl. */
struct mini {
	struct metainfo mi;
	struct metainfo_file files[3];
	char *comps[3][2];
	uint8_t hashes[3 * SHA1_LEN];
	struct storage *st;
	char dl[128];
};

static void
mini_open(struct mini *m)
{
	static const char *names[3] = {"a", "b", "c"};
	struct error err = {0};
	size_t i;

	memset(m, 0, sizeof *m);
	for (i = 0; i < 3; i++) {
		m->comps[i][0] = "r";
		m->comps[i][1] = (char *)names[i];
		m->files[i].path = (char *)names[i];
		m->files[i].components = m->comps[i];
		m->files[i].ncomponents = 2;
		m->files[i].length = 1000;
		m->files[i].offset = i * 1000;
	}
	m->mi.files = m->files;
	m->mi.nfiles = 3;
	m->mi.total_length = 3000;
	m->mi.piece_length = 1024;
	m->mi.piece_count = 3;
	m->mi.piece_hashes = m->hashes;
	snprintf(m->dl, sizeof m->dl, "%s/dl", root);
	cr_assert_eq(storage_open(&m->st, &m->mi, m->dl, &err), 0, "%s", err.msg);
}

static void
set_mtime(const struct mini *m, const char *name, time_t sec, long nsec)
{
	struct timespec ts[2] = {{0, UTIME_OMIT}, {sec, nsec}};
	char path[256];

	snprintf(path, sizeof path, "%s/r/%s", m->dl, name);
	cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0, "%s", strerror(errno));
}

Test(resume, matches_tracks_size_and_mtime)
{
	uint8_t data[1500] = {7};
	struct resume_state rs, back;
	struct error err = {0};
	char path[256];
	struct stat sb;
	struct mini m;

	mini_open(&m);
	cr_assert_eq(storage_write(m.st, 0, data, sizeof data), 0); /* files a and b */
	cr_assert_eq(resume_state_init(&rs, HASH, 3, 3), 0);
	cr_assert_eq(resume_snapshot_files(&rs, m.st), 0);
	cr_assert_eq(rs.files[0].size, 1000);
	cr_assert_eq(rs.files[2].size, -1);
	snprintf(path, sizeof path, "%s/r/a", m.dl);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(rs.files[0].mtime_sec, sb.st_mtim.tv_sec);
	cr_assert_eq(rs.files[0].mtime_nsec, sb.st_mtim.tv_nsec);

	snprintf(path, sizeof path, "%s/t.resume", root);
	cr_assert_eq(resume_save(path, &rs, &err), 0, "%s", err.msg);
	cr_assert_eq(resume_state_init(&back, HASH, 3, 3), 0);
	cr_assert_eq(resume_load(path, &back, &err), 0, "%s", err.msg);
	cr_assert_eq(resume_matches(&back, m.st), 1);

	/* mtime changes, then back: only the exact recorded time matches. */
	set_mtime(&m, "a", rs.files[0].mtime_sec + 1, rs.files[0].mtime_nsec);
	cr_assert_eq(resume_matches(&back, m.st), 0);
	set_mtime(&m, "a", rs.files[0].mtime_sec, (rs.files[0].mtime_nsec + 1) % 1000000000);
	cr_assert_eq(resume_matches(&back, m.st), 0);
	set_mtime(&m, "a", rs.files[0].mtime_sec, rs.files[0].mtime_nsec);
	cr_assert_eq(resume_matches(&back, m.st), 1);

	/* A size change with the mtime restored is still seen. */
	snprintf(path, sizeof path, "%s/r/b", m.dl);
	cr_assert_eq(truncate(path, 999), 0);
	set_mtime(&m, "b", rs.files[1].mtime_sec, rs.files[1].mtime_nsec);
	cr_assert_eq(resume_matches(&back, m.st), 0);
	cr_assert_eq(truncate(path, 1000), 0);
	set_mtime(&m, "b", rs.files[1].mtime_sec, rs.files[1].mtime_nsec);
	cr_assert_eq(resume_matches(&back, m.st), 1);

	/* A file that appears, or disappears, breaks the match. */
	cr_assert_eq(storage_write(m.st, 2500, data, 10), 0);
	cr_assert_eq(resume_matches(&back, m.st), 0);
	cr_assert_eq(resume_snapshot_files(&back, m.st), 0);
	cr_assert_eq(resume_matches(&back, m.st), 1);
	snprintf(path, sizeof path, "%s/r/c", m.dl);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(resume_matches(&back, m.st), 0);

	/* Times before 1970 keep nanoseconds in [0, 1e9). A new storage, since
	 * the old one still caches a descriptor of the deleted file. */
	storage_close(m.st);
	cr_assert_eq(storage_open(&m.st, &m.mi, m.dl, &err), 0, "%s", err.msg);
	cr_assert_eq(storage_write(m.st, 2500, data, 10), 0);
	set_mtime(&m, "c", -5, 300);
	cr_assert_eq(resume_snapshot_files(&back, m.st), 0);
	cr_assert_eq(back.files[2].mtime_sec, -5);
	cr_assert_eq(back.files[2].mtime_nsec, 300);
	cr_assert_eq(resume_matches(&back, m.st), 1);

	/* A state for another file count never matches. */
	resume_state_free(&rs);
	cr_assert_eq(resume_state_init(&rs, HASH, 3, 2), 0);
	cr_assert_eq(resume_snapshot_files(&rs, m.st), -ERR_INVALID);
	cr_assert_eq(resume_matches(&rs, m.st), 0);

	resume_state_free(&rs);
	resume_state_free(&back);
	storage_close(m.st);
}
