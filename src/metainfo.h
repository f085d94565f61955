/*
 * metainfo: parses .torrent files (BitTorrent v1, BEP 3) into a validated,
 * self-contained description of the torrent: the file layout, piece hashes,
 * trackers (BEP 12 tiers), web seeds (BEP 19) and descriptive fields.
 *
 * Everything in a .torrent is untrusted. The parser refuses inconsistent
 * sizes and hostile paths (`..`, absolute paths, empty components,
 * separators or control characters inside a component, duplicates, a file
 * that is also a directory), so later code can join paths under a download
 * folder without re-checking. The info-hash is the SHA-1 of the raw bytes
 * of the `info` dictionary as they appear in the file.
 */
#ifndef PIECES_METAINFO_H
#define PIECES_METAINFO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sha1.h"

/* A .torrent file larger than this is refused before it is read. */
#define METAINFO_MAX_FILE_SIZE	  (64u << 20)
#define METAINFO_MAX_PIECE_LENGTH (256u << 20)
#define METAINFO_MAX_FILES	  1000000u
/* One path component, as on most Linux filesystems (NAME_MAX). */
#define METAINFO_MAX_COMPONENT 255u
/* A joined relative path ("name/dir/file"), so it fits in PATH_MAX. */
#define METAINFO_MAX_PATH 4000u

struct metainfo_file {
	/*
	 * Path relative to the download folder, components joined with '/':
	 * for a multi-file torrent it starts with the torrent's name
	 * ("name/dir/file"); for a single-file torrent it is the name.
	 */
	char *path;
	/*
	 * The same path, split; ncomponents entries. The array and the
	 * strings are one allocation. Every component has passed
	 * metainfo_check_component(), so none is empty, ".", "..", or holds
	 * '/', '\\', NUL or a control character.
	 */
	char **components;
	size_t ncomponents;
	uint64_t length;
	uint64_t offset; /* of the file's first byte in the torrent's byte stream */
	int pad;	 /* BEP 47 padding file: part of the layout, never shown or written */
};

struct metainfo_tier {
	char **urls;
	size_t nurls;
};

struct metainfo {
	uint8_t info_hash[SHA1_LEN];
	char *name;
	int multi_file;
	uint64_t total_length;
	uint32_t piece_length;
	uint32_t piece_count;
	uint8_t *piece_hashes; /* piece_count * SHA1_LEN bytes */

	struct metainfo_file *files;
	size_t nfiles;

	struct metainfo_tier *tiers; /* announce-list, or a single tier from announce */
	size_t ntiers;
	char **web_seeds; /* url-list */
	size_t nweb_seeds;

	int private_flag;
	/*
	 * Free text from the file, NULL when absent. Untrusted: may hold
	 * control characters (a NUL in the original ends the string), so
	 * escape before printing to a terminal.
	 */
	char *comment; /* comment.utf-8 when present, else comment */
	char *created_by;
	int64_t creation_date;
	int has_creation_date;
	char *source; /* info.source, NULL when absent */
};

/*
 * Parses a whole .torrent in memory. Returns NULL with err set: err->msg is
 * one line naming the offending key ("info.files[3].path \"t/../x\"
 * contains '..'"), err->offset the byte offset of the offending value when
 * known. Codes: ERR_SYNTAX (not bencode), ERR_LIMIT (a cap above),
 * ERR_INVALID (inconsistent or hostile), ERR_UNSUPPORTED (v2-only),
 * ERR_NOMEM. The result does not point into p.
 */
struct metainfo *metainfo_parse(const uint8_t *p, size_t n, struct error *err);
/*
 * Reads and parses a file (at most METAINFO_MAX_FILE_SIZE bytes). I/O
 * failures are ERR_IO with strerror's text; the message never repeats the
 * path, the caller shows it.
 */
struct metainfo *metainfo_load(const char *path, struct error *err);
/* NULL is a no-op. */
void metainfo_free(struct metainfo *mi);

/* Length of piece i (the last one may be short); 0 when i is out of range. */
uint32_t metainfo_piece_size(const struct metainfo *mi, uint32_t i);
/*
 * Checks one path component (raw bytes, may hold NUL); 0 if acceptable,
 * else -ERR_INVALID with a reason such as "path component \"..\" contains
 * '..'". Refused: empty, ".", "..", '/', '\\', NUL, bytes < 0x20 and 0x7f,
 * more than METAINFO_MAX_COMPONENT bytes. Other bytes, including invalid
 * UTF-8, are accepted: Linux file names are bytes.
 */
int metainfo_check_component(const uint8_t *p, size_t n, struct error *err);

#endif
