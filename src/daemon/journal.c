/*
 * journal.c - the durable journal: segments, group commit, replay,
 * checkpoint and repair (RELIABILITY.md section 2, doc/journal-format.md).
 *
 * Invariants:
 * - Memory (the caller's state, changed only through apply) never runs
 *   ahead of the disk: a record is applied only after the fdatasync that
 *   covers it returned 0.
 * - After an fsync/fdatasync failure the journal is failed for good: no
 *   descriptor is synced again, nothing more is written, every append is
 *   refused. The caller exits 75 and replay reads what is really on disk.
 * - Bytes past the committed offset of the open segment are never
 *   trusted: a failed write is cut off again with ftruncate, and that cut
 *   is made durable before the next batch.
 * - Replay never skips a bad record: damage is either a torn tail of the
 *   newest segment (cut off, copied to quarantine/) or refusal.
 * All file I/O goes through struct fileops. Nothing here logs.
 */
#include "daemon/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/cleanup.h"
#include "common/crc32c.h"
#include "common/jsonparse.h"
#include "core/records.h"
#include "daemon/fileops.h"

#define SEG_MAGIC "CWTJRNL"  /* 8 bytes with the NUL */
#define CKPT_MAGIC "CWTCKPT"
#define JOURNAL_DIR "journal"
#define QUARANTINE_DIR "quarantine"
#define CKPT_NAME "checkpoint"
#define CKPT_TMP_NAME "checkpoint.tmp"
#define RESERVE_NAME "reserve"
#define LOCK_NAME "lock"
#define RESERVE_SIZE (1024u * 1024u)
#define DEFAULT_COMPACT_BYTES (4u * 1024u * 1024u)
#define DEFAULT_MIN_FREE (2u * 1024u * 1024u)
#define SEGMENT_FILE_MAX (1024ull * 1024u * 1024u) /* refuse to read more */
#define JSON_DEPTH 32
#define JSON_FAST_DEPTH 16 /* deeper declines: json_tokener decides */
#define SEG_NAME_LEN 20 /* 16 digits + ".log" */

/* ---- little-endian helpers ---- */

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t) (v >> (8 * i));
	}
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t) (v >> (8 * i));
	}
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
	    (uint32_t) p[3] << 24;
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t) get32(p) | (uint64_t) get32(p + 4) << 32;
}

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i]) {
			return false;
		}
	}
	return true;
}

/* ---- pure record and header encoding ---- */

static uint32_t
record_crc(uint64_t salt, const uint8_t *rec, size_t len)
{
	uint8_t s[8];

	put64(s, salt);
	return crc32c_update(crc32c(s, sizeof(s)), rec, 16 + len);
}

ssize_t
journal_record_encode(uint64_t salt, uint16_t type, uint64_t seq,
    const void *payload, size_t len, size_t max_len, uint8_t *out)
{
	if (type == 0) {
		return -EINVAL;
	}
	if (len == 0 || len > max_len) {
		return -E2BIG;
	}
	put32(out, (uint32_t) len);
	put16(out + 4, type);
	put16(out + 6, 0);
	put64(out + 8, seq);
	memcpy(out + 16, payload, len);
	put32(out + 16 + len, record_crc(salt, out, len));
	return (ssize_t) (len + JOURNAL_RECORD_OVERHEAD);
}

enum journal_decode_result
journal_record_decode(uint64_t salt, const uint8_t *buf, size_t avail,
    size_t max_len, struct journal_record_view *ret)
{
	uint32_t len;

	if (avail < 16) {
		return all_zero(buf, avail) ? JOURNAL_DECODE_END :
					      JOURNAL_DECODE_INVALID;
	}
	if (all_zero(buf, 16)) {
		return JOURNAL_DECODE_END;
	}
	len = get32(buf);
	if (len == 0 || len > max_len || get16(buf + 6) != 0 ||
	    get16(buf + 4) == 0) {
		return JOURNAL_DECODE_INVALID;
	}
	if ((size_t) len + JOURNAL_RECORD_OVERHEAD > avail) {
		return JOURNAL_DECODE_INVALID;
	}
	if (record_crc(salt, buf, len) != get32(buf + 16 + len)) {
		return JOURNAL_DECODE_INVALID;
	}
	ret->len = len;
	ret->type = get16(buf + 4);
	ret->flags = 0;
	ret->seq = get64(buf + 8);
	ret->payload = buf + 16;
	ret->size = len + JOURNAL_RECORD_OVERHEAD;
	return JOURNAL_DECODE_OK;
}

struct hdr {
	uint32_t version;
	uint64_t salt;
	uint64_t number;
	uint64_t first_seq;
	uint8_t boot_id[16];
};

static void
header_encode(uint8_t *out, const char *magic, const struct hdr *h)
{
	memset(out, 0, JOURNAL_HEADER_SIZE);
	memcpy(out, magic, 8);
	put32(out + 8, JOURNAL_FORMAT_VERSION);
	put32(out + 12, JOURNAL_HEADER_SIZE);
	put64(out + 16, h->salt);
	put64(out + 24, h->number);
	put64(out + 32, h->first_seq);
	memcpy(out + 40, h->boot_id, 16);
	put32(out + 56, 0);
	put32(out + 60, crc32c(out, 60));
}

enum hdr_result { HDR_OK, HDR_BAD, HDR_NEWER };

static enum hdr_result
header_decode(const uint8_t *p, size_t size, const char *magic,
    struct hdr *ret)
{
	if (size < JOURNAL_HEADER_SIZE || memcmp(p, magic, 8) != 0 ||
	    crc32c(p, 60) != get32(p + 60)) {
		return HDR_BAD;
	}
	ret->version = get32(p + 8);
	if (ret->version != JOURNAL_FORMAT_VERSION) {
		return HDR_NEWER;
	}
	if (get32(p + 12) != JOURNAL_HEADER_SIZE || get32(p + 56) != 0) {
		return HDR_BAD;
	}
	ret->salt = get64(p + 16);
	ret->number = get64(p + 24);
	ret->first_seq = get64(p + 32);
	memcpy(ret->boot_id, p + 40, 16);
	return HDR_OK;
}

/* Parses a payload: exactly one JSON object filling all len bytes, with
 * a depth-limited tokener (never json_tokener_parse on file input).
 * Replay's cost is mostly this parse: the plain JSON that we write goes
 * through jsonparse_object() (about 3x faster, the same objects);
 * whatever it declines (damage included) is decided by json_tokener. */
static int
payload_parse(const uint8_t *p, size_t len, json_object **ret)
{
	struct json_tokener *tok;
	json_object *o;
	int r;

	if (len > INT_MAX) {
		return -E2BIG;
	}
	r = jsonparse_object((const char *) p, len, JSON_FAST_DEPTH, ret);
	if (r != -ENOTSUP) {
		return r; /* 0 or -ENOMEM */
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok) {
		return -ENOMEM;
	}
	o = json_tokener_parse_ex(tok, (const char *) p, (int) len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		json_tokener_free(tok);
		return -EBADMSG;
	}
	json_tokener_free(tok);
	*ret = o;
	return 0;
}

/* ---- small I/O helpers over fileops ---- */

static int
read_all(const struct fileops *ops, int fd, uint64_t max, uint8_t **ret,
    size_t *ret_size)
{
	struct stat st;
	uint8_t *buf;
	size_t size, done = 0;
	int r;

	r = ops->fstat(fd, &st);
	if (r < 0) {
		return r;
	}
	if (st.st_size < 0 || (uint64_t) st.st_size > max) {
		return -EFBIG;
	}
	size = (size_t) st.st_size;
	buf = malloc(size ? size : 1);
	if (!buf) {
		return -ENOMEM;
	}
	while (done < size) {
		ssize_t n = ops->pread(fd, buf + done, size - done,
		    (off_t) done);

		if (n < 0) {
			free(buf);
			return (int) n;
		}
		if (n == 0) {
			break; /* shrank under us: use what is there */
		}
		done += (size_t) n;
	}
	*ret = buf;
	*ret_size = done;
	return 0;
}

/* A segment read progressively: data[0..done) holds the bytes read so
 * far, size is the file's size (smaller when it shrank under us, as
 * read_all). Why: replay decodes and applies the records at the front
 * while the kernel reads the rest (POSIX_FADV_WILLNEED after the
 * DONTNEED of 2.6 step 2), instead of waiting for the whole file before
 * parsing the first record. The buffer is allocated once at full size,
 * so pointers into it stay valid. */
struct segread {
	const struct fileops *ops;
	int fd;
	uint8_t *data;
	size_t size;
	size_t done;
};

#define SEGREAD_CHUNK (1024u * 1024u)

static int
segread_start(struct segread *sr, const struct fileops *ops, int fd,
    uint64_t max)
{
	struct stat st;
	int r;

	sr->ops = ops;
	sr->fd = fd;
	sr->done = 0;
	r = ops->fstat(fd, &st);
	if (r < 0) {
		return r;
	}
	if (st.st_size < 0 || (uint64_t) st.st_size > max) {
		return -EFBIG;
	}
	sr->size = (size_t) st.st_size;
	sr->data = malloc(sr->size ? sr->size : 1);
	return sr->data ? 0 : -ENOMEM;
}

/* Reads until at least min(want, size) bytes are there, in chunks of
 * SEGREAD_CHUNK or more; SIZE_MAX reads the whole file. */
static int
segread_fill(struct segread *sr, size_t want)
{
	if (want > sr->size) {
		want = sr->size;
	}
	while (sr->done < want) {
		size_t chunk = sr->size - sr->done;
		ssize_t n;

		if (chunk > SEGREAD_CHUNK && want - sr->done <= SEGREAD_CHUNK) {
			chunk = SEGREAD_CHUNK;
		}
		n = sr->ops->pread(sr->fd, sr->data + sr->done, chunk,
		    (off_t) sr->done);
		if (n < 0) {
			return (int) n;
		}
		if (n == 0) {
			sr->size = sr->done; /* shrank: use what is there */
			break;
		}
		sr->done += (size_t) n;
	}
	return 0;
}

static int
write_full(const struct fileops *ops, int fd, const void *buf, size_t len,
    uint64_t off)
{
	struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
	ssize_t n = ops->pwritev(fd, &iov, 1, (off_t) off);

	if (n < 0) {
		return (int) n;
	}
	return (size_t) n == len ? 0 : -ENOSPC; /* short: out of space */
}

static void
seg_name(char *buf, size_t len, uint64_t number)
{
	snprintf(buf, len, "%016" PRIu64 ".log", number);
}

/* Parses "0000000000000007.log"; false for anything else. */
static bool
seg_name_parse(const char *name, uint64_t *ret)
{
	uint64_t v = 0;

	if (strlen(name) != SEG_NAME_LEN || strcmp(name + 16, ".log") != 0) {
		return false;
	}
	for (int i = 0; i < 16; i++) {
		if (name[i] < '0' || name[i] > '9') {
			return false;
		}
		v = v * 10 + (uint64_t) (name[i] - '0');
	}
	*ret = v;
	return true;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

static void
boot_id_read(const struct fileops *ops, uint8_t out[16])
{
	char text[64];
	int fd, k = 0;
	ssize_t n;

	memset(out, 0, 16);
	fd = ops->openat(AT_FDCWD, "/proc/sys/kernel/random/boot_id",
	    O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		return; /* informative only: zeros when unknown */
	}
	n = ops->pread(fd, text, sizeof(text) - 1, 0);
	(void) ops->close(fd); /* read-only */
	if (n <= 0) {
		return;
	}
	for (ssize_t i = 0; i < n && k < 32; i++) {
		int c = text[i], v;

		if (c >= '0' && c <= '9') {
			v = c - '0';
		} else if (c >= 'a' && c <= 'f') {
			v = c - 'a' + 10;
		} else {
			continue;
		}
		out[k / 2] = (uint8_t) (out[k / 2] | (k % 2 ? v : v << 4));
		k++;
	}
}

/* ---- the journal object ---- */

struct pending {
	uint16_t type;
	uint64_t seq;
	size_t off; /* record start in the batch buffer */
	size_t len; /* payload length */
	journal_done_fn *done;
	void *userdata;
};

struct journal {
	const struct fileops *ops;
	char *state_dir;
	journal_apply_fn *apply;
	journal_snapshot_fn *snapshot;
	void *userdata;
	uint64_t compact_bytes;
	uint64_t min_free;

	int state_fd;
	int jdir_fd;
	int lock_fd;

	int seg_fd;
	uint64_t seg_number;
	uint64_t seg_salt;
	uint64_t seg_off;      /* committed end of the open segment */
	uint64_t max_number;   /* highest segment number ever seen */
	uint64_t *old_segs;    /* older live segments (numbers) */
	size_t n_old_segs;
	uint64_t seg_bytes;    /* record bytes in all live segments */
	uint64_t compact_backoff; /* after a failed compaction */

	uint64_t last_seq;     /* last committed */
	uint64_t ckpt_seq;
	uint8_t boot_id[16];

	uint8_t *buf;          /* the pending batch, encoded */
	size_t len, cap;
	struct pending *pend;
	size_t npend, cappend;
	uint64_t batch_id;     /* bumped whenever a commit takes the batch */

	bool failed;
	bool in_commit;
	bool reserve_dropped;
};

/* ---- replay ---- */

struct replay {
	const struct fileops *ops;
	const char *state_dir;
	int state_fd;
	int jdir_fd;
	journal_apply_fn *apply;
	void *userdata;
	bool cut_tail; /* cut a torn tail (open, check --repair) */
	FILE *out;     /* check: report lines, or NULL */

	uint64_t ckpt_seq;
	bool have_ckpt;
	uint64_t next;
	uint64_t *segs;
	size_t nsegs;
	uint64_t max_number;
	uint64_t seg_bytes;
	uint64_t records;

	/* The first damage found. */
	bool corrupt;
	bool newer;           /* written by a newer cwtimed: never repair */
	bool damage_in_ckpt;
	size_t damage_seg;    /* index into segs */
	uint64_t damage_off;
	/* A torn tail found (and cut when cut_tail). */
	uint64_t torn_bytes;
};

static void
replay_fini(struct replay *rp)
{
	free(rp->segs);
	rp->segs = NULL;
}

static int
replay_damage(struct replay *rp, struct errbuf *reterr, const char *file,
    uint64_t off, const char *expected, const char *found)
{
	rp->corrupt = true;
	rp->damage_off = off;
	return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
	    "journal damaged in %s/%s at offset %" PRIu64
	    ": expected %s, found %s; 'cwtimed --check-journal' reports it, "
	    "'cwtimed --check-journal --repair' cuts it off",
	    rp->state_dir, file, off, expected, found);
}

static int
replay_newer(struct replay *rp, struct errbuf *reterr, const char *file,
    uint64_t off, const char *what)
{
	rp->corrupt = true;
	rp->newer = true;
	rp->damage_off = off;
	return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
	    "%s/%s at offset %" PRIu64 ": %s, written by a newer cwtimed; "
	    "refusing to start (upgrade cwtimed)",
	    rp->state_dir, file, off, what);
}

/* Writes bytes to quarantine/<base>.bin (O_EXCL; a numbered suffix when
 * the name is taken), fsyncs it and the directory. */
static int
quarantine_write(struct replay *rp, const char *base, const uint8_t *data,
    size_t len)
{
	const struct fileops *ops = rp->ops;
	char name[128];
	int qfd, fd = -1, r;

	qfd = ops->openat(rp->state_fd, QUARANTINE_DIR,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (qfd < 0) {
		return qfd;
	}
	for (int i = 0; i < 1000; i++) {
		if (i == 0) {
			snprintf(name, sizeof(name), "%s.bin", base);
		} else {
			snprintf(name, sizeof(name), "%s.%d.bin", base, i);
		}
		fd = ops->openat(qfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -EEXIST) {
			break;
		}
	}
	if (fd < 0) {
		(void) ops->close(qfd); /* directory, read-only */
		return fd;
	}
	r = len ? write_full(ops, fd, data, len, 0) : 0;
	if (r == 0) {
		r = ops->fsync(fd);
	}
	if (ops->close(fd) < 0 && r == 0) {
		r = -EIO;
	}
	if (r == 0) {
		r = ops->fsync(qfd);
	}
	(void) ops->close(qfd); /* synced above */
	return r;
}

static int
replay_apply(struct replay *rp, struct errbuf *reterr, const char *file,
    uint64_t off, const struct journal_record_view *v)
{
	json_object *o = NULL;
	char found[96];
	int r;

	r = payload_parse(v->payload, v->len, &o);
	if (r == -ENOMEM) {
		return errbuf_set(reterr, ERR_INTERNAL, r, "out of memory");
	}
	if (r < 0) {
		snprintf(found, sizeof(found),
		    "a payload that is not one JSON object (seq %" PRIu64 ")",
		    v->seq);
		return replay_damage(rp, reterr, file, off,
		    "a JSON object payload", found);
	}
	if (rp->apply) {
		struct errbuf e;

		errbuf_clear(&e);
		r = rp->apply(rp->userdata, v->type, v->seq, o, &e);
		if (r != 0) {
			snprintf(found, sizeof(found),
			    "a %s record (seq %" PRIu64 ") that cannot be "
			    "applied",
			    records_type_name(v->type) ?
				records_type_name(v->type) :
				"?",
			    v->seq);
			json_object_put(o);
			rp->corrupt = true;
			rp->damage_off = off;
			return errbuf_set(reterr, ERR_JOURNAL_CORRUPT, -EBADMSG,
			    "journal record in %s/%s at offset %" PRIu64
			    " (seq %" PRIu64 ") cannot be applied: %s",
			    rp->state_dir, file, off, v->seq,
			    e.msg[0] ? e.msg : found);
		}
	}
	json_object_put(o);
	rp->records++;
	return 0;
}

static int
replay_checkpoint(struct replay *rp, struct errbuf *reterr)
{
	const struct fileops *ops = rp->ops;
	CLEANUP_FREE uint8_t *data = NULL;
	struct journal_record_view v;
	struct hdr h;
	size_t size;
	char found[96];
	int fd, r;

	fd = ops->openat(rp->state_fd, CKPT_NAME, O_RDONLY | O_CLOEXEC, 0);
	if (fd == -ENOENT) {
		return 0;
	}
	if (fd < 0) {
		return errbuf_set(reterr, ERR_DISK_ERROR, fd,
		    "cannot open %s/%s: %s", rp->state_dir, CKPT_NAME,
		    strerror(-fd));
	}
	(void) ops->fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); /* a hint */
	r = read_all(ops, fd, JOURNAL_HEADER_SIZE + JOURNAL_CHECKPOINT_MAX +
		JOURNAL_RECORD_OVERHEAD, &data, &size);
	(void) ops->close(fd); /* read-only */
	rp->have_ckpt = true;
	rp->damage_in_ckpt = true;
	if (r == -EFBIG) {
		return replay_damage(rp, reterr, CKPT_NAME, 0,
		    "a checkpoint of at most 64 MiB", "a larger file");
	}
	if (r < 0) {
		return errbuf_set(reterr, ERR_DISK_ERROR, r,
		    "cannot read %s/%s: %s", rp->state_dir, CKPT_NAME,
		    strerror(-r));
	}
	switch (header_decode(data, size, CKPT_MAGIC, &h)) {
	case HDR_BAD:
		return replay_damage(rp, reterr, CKPT_NAME, 0,
		    "a checkpoint header (magic CWTCKPT, valid CRC)",
		    "a damaged header");
	case HDR_NEWER:
		return replay_newer(rp, reterr, CKPT_NAME, 8,
		    "unknown format version");
	case HDR_OK:
		break;
	}
	if (journal_record_decode(h.salt, data + JOURNAL_HEADER_SIZE,
		size - JOURNAL_HEADER_SIZE, JOURNAL_CHECKPOINT_MAX,
		&v) != JOURNAL_DECODE_OK) {
		return replay_damage(rp, reterr, CKPT_NAME, JOURNAL_HEADER_SIZE,
		    "a valid checkpoint record", "a damaged record");
	}
	if (v.type != JOURNAL_REC_CHECKPOINT || v.seq != h.first_seq) {
		snprintf(found, sizeof(found), "type %u seq %" PRIu64,
		    v.type, v.seq);
		return replay_damage(rp, reterr, CKPT_NAME, JOURNAL_HEADER_SIZE,
		    "a checkpoint record with the header's seq", found);
	}
	if (JOURNAL_HEADER_SIZE + v.size != size) {
		snprintf(found, sizeof(found), "%zu more bytes",
		    size - JOURNAL_HEADER_SIZE - v.size);
		return replay_damage(rp, reterr, CKPT_NAME,
		    JOURNAL_HEADER_SIZE + v.size, "the end of the checkpoint",
		    found);
	}
	r = replay_apply(rp, reterr, CKPT_NAME, JOURNAL_HEADER_SIZE, &v);
	if (r < 0) {
		return r;
	}
	rp->records--; /* the checkpoint is not a journal record */
	rp->damage_in_ckpt = false;
	rp->ckpt_seq = v.seq;
	rp->next = v.seq + 1;
	if (rp->out) {
		fprintf(rp->out, "checkpoint: state up to seq %" PRIu64 "\n",
		    v.seq);
	}
	return 0;
}

/* Looks past damage at off for any record that validates with this
 * file's salt and a seq >= the one expected there. Such a record means
 * the damage is in the middle (refuse); none means a torn tail. */
static bool
valid_record_after(const uint8_t *data, size_t size, size_t off,
    uint64_t salt, uint64_t seq, uint64_t *ret_seq, size_t *ret_off)
{
	struct journal_record_view v;

	for (size_t o = off + 1; o + JOURNAL_RECORD_OVERHEAD < size; o++) {
		/* Cheap filters first: a length in range (little-endian, at
		 * most 256 KiB), flags zero and a plausible seq. */
		if (data[o + 3] != 0 || data[o + 2] > 4 ||
		    (data[o] | data[o + 1] | data[o + 2]) == 0 ||
		    data[o + 6] != 0 || data[o + 7] != 0) {
			continue;
		}
		if (get64(data + o + 8) < seq ||
		    get64(data + o + 8) - seq > UINT32_MAX) {
			continue;
		}
		if (journal_record_decode(salt, data + o, size - o,
			JOURNAL_RECORD_MAX, &v) == JOURNAL_DECODE_OK) {
			*ret_seq = v.seq;
			*ret_off = o;
			return true;
		}
	}
	return false;
}

/* Describes why the record at p did not validate. */
static void
describe_invalid(char *buf, size_t len, const uint8_t *p, size_t avail,
    enum journal_decode_result res)
{
	if (res == JOURNAL_DECODE_END) {
		snprintf(buf, len, "zero bytes (end of log)");
	} else if (avail < 16) {
		snprintf(buf, len, "%zu stray bytes", avail);
	} else {
		snprintf(buf, len,
		    "an invalid record (length %" PRIu32 ", type %u, flags "
		    "0x%x, seq %" PRIu64 ", bad CRC or length)",
		    get32(p), get16(p + 4), get16(p + 6), get64(p + 8));
	}
}

/* Cuts the torn tail [off, size) of segment fd: quarantine copy, then
 * ftruncate and fdatasync. Trailing zeros are not copied. */
static int
replay_cut_tail(struct replay *rp, struct errbuf *reterr, const char *file,
    int fd, const uint8_t *data, size_t size, size_t off, uint64_t number)
{
	char base[64];
	size_t end = size;
	int r;

	while (end > off && data[end - 1] == 0) {
		end--;
	}
	rp->torn_bytes += size - off;
	if (!rp->cut_tail) {
		if (rp->out) {
			fprintf(rp->out,
			    "%s: torn tail of %zu bytes at offset %zu "
			    "(cut off at the next start)\n",
			    file, size - off, off);
		}
		return 0;
	}
	if (end > off) {
		snprintf(base, sizeof(base), "%016" PRIu64 "-%zu", number, off);
		r = quarantine_write(rp, base, data + off, end - off);
		if (r < 0) {
			return errbuf_set(reterr, ERR_DISK_ERROR, r,
			    "cannot copy the torn tail of %s/%s/%s to "
			    "quarantine: %s",
			    rp->state_dir, JOURNAL_DIR, file, strerror(-r));
		}
	}
	r = rp->ops->ftruncate(fd, (off_t) off);
	if (r == 0) {
		r = rp->ops->fdatasync(fd);
	}
	if (r < 0) {
		return errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO,
		    "cannot cut the torn tail of %s/%s/%s: %s", rp->state_dir,
		    JOURNAL_DIR, file, strerror(-r));
	}
	if (rp->out && end > off) {
		fprintf(rp->out, "%s: cut a torn tail of %zu bytes at offset "
				 "%zu\n",
		    file, size - off, off);
	}
	return 0;
}

static int
replay_segment(struct replay *rp, size_t idx, bool *ret_remove,
    struct errbuf *reterr)
{
	const struct fileops *ops = rp->ops;
	CLEANUP_FREE uint8_t *data = NULL;
	bool newest = idx + 1 == rp->nsegs;
	char file[SEG_NAME_LEN + 1], where[SEG_NAME_LEN + 16];
	char exp[64], found[160];
	struct journal_record_view v;
	enum journal_decode_result res;
	struct segread sr = { 0 };
	struct hdr h = { 0 };
	uint64_t seq = 0, fseq;
	size_t size, off, foff;
	bool tail_zero;
	int fd, r;

	*ret_remove = false;
	rp->damage_seg = idx;
	seg_name(file, sizeof(file), rp->segs[idx]);
	snprintf(where, sizeof(where), "%s/%s", JOURNAL_DIR, file);
	fd = ops->openat(rp->jdir_fd, file,
	    (rp->cut_tail ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
	if (fd < 0) {
		return errbuf_set(reterr, ERR_DISK_ERROR, fd,
		    "cannot open %s/%s/%s: %s", rp->state_dir, JOURNAL_DIR,
		    file, strerror(-fd));
	}
	/* Read what is on the disk, not what the page cache remembers after
	 * a failed write-back (2.6 step 2); then ask for all of a file of
	 * more than one chunk at once, so that the disk works while the
	 * first records are parsed. Hints: errors do not matter. */
	(void) ops->fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	r = segread_start(&sr, ops, fd, SEGMENT_FILE_MAX);
	data = sr.data;
	if (r == 0 && sr.size > SEGREAD_CHUNK) {
		(void) ops->fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	}
	if (r == 0) {
		r = segread_fill(&sr, SEGREAD_CHUNK);
	}
	if (r == 0 && (sr.done < JOURNAL_HEADER_SIZE ||
	    header_decode(data, sr.done, SEG_MAGIC, &h) != HDR_OK)) {
		/* The rare paths below look at the whole file. */
		r = segread_fill(&sr, SIZE_MAX);
	}
	if (r < 0) {
		(void) ops->close(fd); /* nothing written */
		return errbuf_set(reterr, ERR_DISK_ERROR, r,
		    "cannot read %s/%s/%s: %s", rp->state_dir, JOURNAL_DIR,
		    file, strerror(-r));
	}
	size = sr.done;
	switch (header_decode(data, size, SEG_MAGIC, &h)) {
	case HDR_NEWER:
		r = replay_newer(rp, reterr, where, 8, "unknown format version");
		goto out;
	case HDR_BAD:
		/* A segment whose creation did not finish: only its header
		 * (zeros, part of it, or nothing) is there. Records follow a
		 * header only after the header was synced, so any byte past
		 * the header means the header itself was damaged. */
		if (newest && (size <= JOURNAL_HEADER_SIZE ||
				  all_zero(data + JOURNAL_HEADER_SIZE,
				      size - JOURNAL_HEADER_SIZE))) {
			r = replay_cut_tail(rp, reterr, file, fd, data, size, 0,
			    rp->segs[idx]);
			*ret_remove = r == 0 && rp->cut_tail;
			goto out;
		}
		r = replay_damage(rp, reterr, where, 0,
		    "a segment header (magic CWTJRNL, valid CRC)",
		    "a damaged header");
		goto out;
	case HDR_OK:
		break;
	}
	if (h.number != rp->segs[idx]) {
		snprintf(exp, sizeof(exp), "segment number %" PRIu64,
		    rp->segs[idx]);
		snprintf(found, sizeof(found), "%" PRIu64, h.number);
		r = replay_damage(rp, reterr, where, 24, exp, found);
		goto out;
	}
	if (h.first_seq == 0 ||
	    (h.first_seq > rp->ckpt_seq && h.first_seq != rp->next)) {
		snprintf(exp, sizeof(exp), "first seq %" PRIu64, rp->next);
		snprintf(found, sizeof(found), "first seq %" PRIu64
		    " (a gap or a repeat)", h.first_seq);
		r = replay_damage(rp, reterr, where, 32, exp, found);
		goto out;
	}
	off = JOURNAL_HEADER_SIZE;
	seq = h.first_seq;
	for (;;) {
		/* Keep a whole largest record ahead of off (or the end of
		 * the file): decoding then sees exactly what it would see
		 * in the whole file. */
		if (sr.done < sr.size && sr.done - off <
		    JOURNAL_RECORD_MAX + JOURNAL_RECORD_OVERHEAD) {
			r = segread_fill(&sr, off + SEGREAD_CHUNK);
			if (r < 0) {
				goto read_failed;
			}
		}
		res = journal_record_decode(h.salt, data + off, sr.done - off,
		    JOURNAL_RECORD_MAX, &v);
		if (res != JOURNAL_DECODE_OK) {
			break;
		}
		if (v.seq != seq ||
		    (v.seq > rp->ckpt_seq && v.seq != rp->next)) {
			snprintf(exp, sizeof(exp), "seq %" PRIu64,
			    v.seq != seq ? seq : rp->next);
			snprintf(found, sizeof(found),
			    "seq %" PRIu64 " (a gap or a repeat)", v.seq);
			r = replay_damage(rp, reterr, where, off, exp, found);
			goto out;
		}
		if (v.type == JOURNAL_REC_CHECKPOINT) {
			r = replay_damage(rp, reterr, where, off,
			    "a record", "a checkpoint record in a segment");
			goto out;
		}
		if (!records_type_known(v.type)) {
			snprintf(found, sizeof(found),
			    "a record of unknown type %u (seq %" PRIu64 ")",
			    v.type, v.seq);
			r = replay_newer(rp, reterr, where, off, found);
			goto out;
		}
		if (v.seq > rp->ckpt_seq) {
			r = replay_apply(rp, reterr, where, off, &v);
			if (r < 0) {
				goto out;
			}
			rp->next++;
		}
		rp->seg_bytes += v.size;
		off += v.size;
		seq++;
	}
	/* The rest of the file, for the checks of the tail below. */
	r = segread_fill(&sr, SIZE_MAX);
	if (r < 0) {
		goto read_failed;
	}
	size = sr.done;
	/* The first record that does not validate, at off. All zeros can
	 * hide no record, so the scan is needed only otherwise. */
	tail_zero = all_zero(data + off, size - off);
	if (!tail_zero && valid_record_after(data, size, off, h.salt, seq, &fseq, &foff)) {
		char what[96];

		describe_invalid(what, sizeof(what), data + off, size - off,
		    res);
		snprintf(exp, sizeof(exp), "record seq %" PRIu64, seq);
		snprintf(found, sizeof(found),
		    "%s followed by a valid record seq %" PRIu64
		    " at offset %zu",
		    what, fseq, foff);
		r = replay_damage(rp, reterr, where, off, exp, found);
		goto out;
	}
	if (tail_zero) {
		/* The clean end: preallocated space reads as zeros. */
		r = 0;
		if (newest && rp->cut_tail && off < size) {
			/* Give the preallocation back; the file is closed
			 * for good because every start opens a new segment. */
			r = ops->ftruncate(fd, (off_t) off);
			if (r == 0) {
				r = ops->fdatasync(fd);
			}
			if (r < 0) {
				r = errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO,
				    "cannot trim %s/%s/%s: %s", rp->state_dir,
				    JOURNAL_DIR, file, strerror(-r));
			}
		}
		goto out;
	}
	if (!newest) {
		describe_invalid(found, sizeof(found), data + off, size - off,
		    res);
		snprintf(exp, sizeof(exp), "record seq %" PRIu64
		    " or zeros (an older segment)", seq);
		r = replay_damage(rp, reterr, where, off, exp, found);
		goto out;
	}
	r = replay_cut_tail(rp, reterr, file, fd, data, size, off,
	    rp->segs[idx]);
	goto out;
read_failed:
	r = errbuf_set(reterr, ERR_DISK_ERROR, r, "cannot read %s/%s/%s: %s",
	    rp->state_dir, JOURNAL_DIR, file, strerror(-r));
out:
	if (ops->close(fd) < 0 && r == 0 && rp->cut_tail) {
		r = errbuf_set(reterr, ERR_DISK_ERROR, -EIO,
		    "cannot close %s/%s/%s", rp->state_dir, JOURNAL_DIR, file);
	}
	if (r == 0 && rp->out && seq > 0) {
		fprintf(rp->out, "%s: seq %" PRIu64 "..%" PRIu64 "\n", file,
		    h.first_seq, seq - 1);
	}
	return r;
}

static int
list_segments(struct replay *rp, struct errbuf *reterr)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	r = rp->ops->listdir(rp->jdir_fd, &names, &n);
	if (r < 0) {
		return errbuf_set(reterr, ERR_DISK_ERROR, r,
		    "cannot list %s/%s: %s", rp->state_dir, JOURNAL_DIR,
		    strerror(-r));
	}
	rp->segs = calloc(n ? n : 1, sizeof(*rp->segs));
	if (!rp->segs) {
		fileops_names_free(names, n);
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
		    "out of memory");
	}
	rp->nsegs = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t num;

		if (seg_name_parse(names[i], &num)) {
			rp->segs[rp->nsegs++] = num;
			if (num > rp->max_number) {
				rp->max_number = num;
			}
		} else if (rp->cut_tail && strlen(names[i]) > 4 &&
		    strcmp(names[i] + strlen(names[i]) - 4, ".tmp") == 0) {
			/* A repair that did not finish: never the truth. */
			(void) rp->ops->unlinkat(rp->jdir_fd, names[i], 0);
		}
	}
	fileops_names_free(names, n);
	qsort(rp->segs, rp->nsegs, sizeof(*rp->segs), cmp_u64);
	return 0;
}

/* Replays the checkpoint and every segment. On success rp->next - 1 is
 * the last seq; a whole-file torn newest segment has been removed. */
static int
replay_run(struct replay *rp, struct errbuf *reterr)
{
	bool remove = false;
	int r;

	rp->next = 1;
	r = list_segments(rp, reterr);
	if (r < 0) {
		return r;
	}
	r = replay_checkpoint(rp, reterr);
	if (r < 0) {
		return r;
	}
	rp->damage_in_ckpt = false;
	for (size_t i = 0; i < rp->nsegs; i++) {
		r = replay_segment(rp, i, &remove, reterr);
		if (r < 0) {
			return r;
		}
	}
	if (remove) {
		char file[SEG_NAME_LEN + 1];

		seg_name(file, sizeof(file), rp->segs[rp->nsegs - 1]);
		r = rp->ops->unlinkat(rp->jdir_fd, file, 0);
		if (r == 0) {
			r = rp->ops->fsync(rp->jdir_fd);
		}
		if (r < 0) {
			return errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO,
			    "cannot remove the unfinished segment %s/%s/%s: %s",
			    rp->state_dir, JOURNAL_DIR, file, strerror(-r));
		}
		rp->nsegs--;
	}
	return 0;
}

/* ---- opening ---- */

/* Creates path and its missing parents (0700). The parent of each
 * directory created is fsynced, so that the new entry survives power
 * loss before the first record in it is acknowledged (2.5). */
static int
mkdir_p(const struct fileops *ops, const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	int r;

	if (len == 0 || len >= sizeof(buf)) {
		return -ENAMETOOLONG;
	}
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		int pfd;

		if (buf[i] != '/' && buf[i] != '\0') {
			continue;
		}
		buf[i] = '\0';
		r = ops->mkdirat(AT_FDCWD, buf, 0700);
		if (r < 0 && r != -EEXIST) {
			return r;
		}
		if (r == 0) {
			char *slash = strrchr(buf, '/');
			char c = '\0';

			if (slash == buf) {
				slash++; /* the parent is "/" */
			}
			if (slash) {
				c = *slash;
				*slash = '\0';
			}
			pfd = ops->openat(AT_FDCWD, slash ? buf : ".",
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
			if (slash) {
				*slash = c;
			}
			if (pfd < 0) {
				return pfd;
			}
			r = ops->fsync(pfd);
			(void) ops->close(pfd); /* directory */
			if (r < 0) {
				return r;
			}
		}
		buf[i] = i == len ? '\0' : '/';
	}
	return 0;
}

static int
lock_take(const struct fileops *ops, int state_fd, const char *state_dir,
    int *ret_fd, struct errbuf *reterr)
{
	char text[32];
	ssize_t n;
	int fd, r, pid = 0, used = 0;

	fd = ops->openat(state_fd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		return errbuf_set(reterr, ERR_DISK_ERROR, fd,
		    "cannot open %s/%s: %s", state_dir, LOCK_NAME,
		    strerror(-fd));
	}
	r = ops->flock(fd, LOCK_EX | LOCK_NB);
	if (r == -EWOULDBLOCK) {
		n = ops->pread(fd, text, sizeof(text) - 1, 0);
		(void) ops->close(fd); /* not ours to write */
		text[n > 0 ? n : 0] = '\0';
		if (sscanf(text, "%d%n", &pid, &used) == 1 && used > 0) {
			return errbuf_set(reterr, ERR_INTERNAL, -EWOULDBLOCK,
			    "cwtimed is already running (pid %d)", pid);
		}
		return errbuf_set(reterr, ERR_INTERNAL, -EWOULDBLOCK,
		    "cwtimed is already running");
	}
	if (r < 0) {
		(void) ops->close(fd); /* nothing written */
		return errbuf_set(reterr, ERR_DISK_ERROR, r,
		    "cannot lock %s/%s: %s", state_dir, LOCK_NAME,
		    strerror(-r));
	}
	/* The pid is for the message above only: no sync needed. */
	n = snprintf(text, sizeof(text), "%d\n", (int) getpid());
	if (ops->ftruncate(fd, 0) == 0) {
		(void) write_full(ops, fd, text, (size_t) n, 0);
	}
	*ret_fd = fd;
	return 0;
}

static int
open_dir(const struct fileops *ops, int dirfd, const char *name,
    bool create, bool *ret_created)
{
	int r;

	if (create) {
		r = ops->mkdirat(dirfd, name, 0700);
		if (r < 0 && r != -EEXIST) {
			return r;
		}
		if (ret_created && r == 0) {
			*ret_created = true;
		}
	}
	return ops->openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
}

/* Creates segment `number` starting at first_seq (2.5): O_EXCL, 1 MiB
 * preallocated, header, fsync(file), fsync(journal dir). */
static int
segment_create(struct journal *j, uint64_t number, uint64_t first_seq,
    int *ret_fd, uint64_t *ret_salt, struct errbuf *reterr)
{
	const struct fileops *ops = j->ops;
	uint8_t hb[JOURNAL_HEADER_SIZE];
	char file[SEG_NAME_LEN + 1];
	struct hdr h = { 0 };
	int fd, r;

	seg_name(file, sizeof(file), number);
	r = ops->getrandom(&h.salt, sizeof(h.salt));
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r,
		    "getrandom failed: %s", strerror(-r));
	}
	h.number = number;
	h.first_seq = first_seq;
	memcpy(h.boot_id, j->boot_id, 16);
	header_encode(hb, SEG_MAGIC, &h);
	fd = ops->openat(j->jdir_fd, file,
	    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		return errbuf_set(reterr,
		    fd == -ENOSPC || fd == -EDQUOT ? ERR_DISK_FULL :
						     ERR_DISK_ERROR,
		    fd, "cannot create %s/%s/%s: %s", j->state_dir,
		    JOURNAL_DIR, file, strerror(-fd));
	}
	/* Preallocation makes ENOSPC show up early and keeps room for the
	 * records that must still fit on a full disk (2.9). Where it is not
	 * supported, or the disk is already full, go on without it. */
	r = ops->fallocate(fd, 0, 0, JOURNAL_SEGMENT_PREALLOC);
	if (r < 0 && r != -EOPNOTSUPP && r != -ENOSPC && r != -EDQUOT &&
	    r != -ENOSYS) {
		goto fail_write;
	}
	r = write_full(ops, fd, hb, sizeof(hb), 0);
	if (r < 0) {
		goto fail_write;
	}
	r = ops->fsync(fd);
	if (r < 0) {
		goto fail_sync;
	}
	r = ops->fsync(j->jdir_fd);
	if (r < 0) {
		goto fail_sync;
	}
	*ret_fd = fd;
	*ret_salt = h.salt;
	if (number > j->max_number) {
		j->max_number = number;
	}
	return 0;

fail_write:
	(void) ops->close(fd); /* never acknowledged; removed below */
	(void) ops->unlinkat(j->jdir_fd, file, 0);
	return errbuf_set(reterr,
	    r == -ENOSPC || r == -EDQUOT ? ERR_DISK_FULL : ERR_DISK_ERROR, r,
	    "cannot write %s/%s/%s: %s", j->state_dir, JOURNAL_DIR, file,
	    strerror(-r));
fail_sync:
	/* A sync failed: the disk dropped data. Never trust a sync again. */
	j->failed = true;
	(void) ops->close(fd); /* not synced again, by rule */
	return errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO,
	    "fsync of a new segment %s/%s/%s failed: %s", j->state_dir,
	    JOURNAL_DIR, file, strerror(-r));
}

/* Makes sure the reserve file (2.9) exists. Best effort. */
static void
reserve_ensure(struct journal *j)
{
	const struct fileops *ops = j->ops;
	int fd, r;

	fd = ops->openat(j->state_fd, RESERVE_NAME,
	    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -EEXIST) {
		j->reserve_dropped = false;
		return;
	}
	if (fd < 0) {
		return;
	}
	r = ops->fallocate(fd, 0, 0, RESERVE_SIZE);
	(void) ops->close(fd); /* preallocated blocks only, no data */
	if (r < 0) {
		/* No room yet: try again after the next compaction. */
		(void) ops->unlinkat(j->state_fd, RESERVE_NAME, 0);
		j->reserve_dropped = true;
	} else {
		j->reserve_dropped = false;
	}
	/* Every create or unlink is made durable before the next
	 * acknowledgement (test C4), this one included. */
	if (ops->fsync(j->state_fd) < 0) {
		j->failed = true;
	}
}

static int
journal_new_empty(const struct journal_config *cfg, struct journal **ret)
{
	struct journal *j = calloc(1, sizeof(*j));

	if (!j) {
		return -ENOMEM;
	}
	j->state_dir = strdup(cfg->state_dir);
	if (!j->state_dir) {
		free(j);
		return -ENOMEM;
	}
	j->ops = cfg->ops ? cfg->ops : &fileops_real;
	j->apply = cfg->apply;
	j->snapshot = cfg->snapshot;
	j->userdata = cfg->userdata;
	j->compact_bytes = cfg->compact_bytes ? cfg->compact_bytes :
						DEFAULT_COMPACT_BYTES;
	j->min_free = cfg->min_free_bytes ? cfg->min_free_bytes :
					    DEFAULT_MIN_FREE;
	j->state_fd = j->jdir_fd = j->lock_fd = j->seg_fd = -1;
	*ret = j;
	return 0;
}

static void
journal_close_fds(struct journal *j)
{
	const struct fileops *ops = j->ops;

	if (j->seg_fd >= 0) {
		(void) ops->close(j->seg_fd); /* synced, or failed for good */
	}
	if (j->jdir_fd >= 0) {
		(void) ops->close(j->jdir_fd); /* directory */
	}
	if (j->state_fd >= 0) {
		(void) ops->close(j->state_fd); /* directory */
	}
	if (j->lock_fd >= 0) {
		(void) ops->close(j->lock_fd); /* releases the lock */
	}
	j->seg_fd = j->jdir_fd = j->state_fd = j->lock_fd = -1;
}

static void
journal_destroy(struct journal *j)
{
	journal_close_fds(j);
	free(j->state_dir);
	free(j->old_segs);
	free(j->buf);
	free(j->pend);
	free(j);
}

/* Opens the state directory (created when missing), its subdirectories
 * and the lock. */
static int
state_open(struct journal *j, bool create, struct errbuf *reterr)
{
	const struct fileops *ops = j->ops;
	bool created = false;
	int r;

	if (create) {
		r = mkdir_p(ops, j->state_dir);
		if (r < 0) {
			return errbuf_set(reterr, ERR_DISK_ERROR, r,
			    "cannot create %s: %s", j->state_dir, strerror(-r));
		}
	}
	j->state_fd = ops->openat(AT_FDCWD, j->state_dir,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (j->state_fd < 0) {
		return errbuf_set(reterr, ERR_DISK_ERROR, j->state_fd,
		    "cannot open %s: %s", j->state_dir, strerror(-j->state_fd));
	}
	r = lock_take(ops, j->state_fd, j->state_dir, &j->lock_fd, reterr);
	if (r < 0) {
		return r;
	}
	/* Flush what a previous instance left in the page cache; a failure
	 * means a write-back error we cannot see otherwise (2.6 step 2). */
	r = ops->syncfs(j->state_fd);
	if (r < 0) {
		return errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO,
		    "syncfs on %s failed: %s", j->state_dir, strerror(-r));
	}
	j->jdir_fd = open_dir(ops, j->state_fd, JOURNAL_DIR, true, &created);
	if (j->jdir_fd < 0) {
		return errbuf_set(reterr, ERR_DISK_ERROR, j->jdir_fd,
		    "cannot open %s/%s: %s", j->state_dir, JOURNAL_DIR,
		    strerror(-j->jdir_fd));
	}
	r = ops->mkdirat(j->state_fd, QUARANTINE_DIR, 0700);
	if (r == 0) {
		created = true;
	} else if (r != -EEXIST) {
		return errbuf_set(reterr, ERR_DISK_ERROR, r,
		    "cannot create %s/%s: %s", j->state_dir, QUARANTINE_DIR,
		    strerror(-r));
	}
	if (created) {
		r = ops->fsync(j->state_fd);
		if (r < 0) {
			return errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO,
			    "fsync of %s failed: %s", j->state_dir,
			    strerror(-r));
		}
	}
	return 0;
}

static void
replay_init(struct replay *rp, struct journal *j)
{
	memset(rp, 0, sizeof(*rp));
	rp->ops = j->ops;
	rp->state_dir = j->state_dir;
	rp->state_fd = j->state_fd;
	rp->jdir_fd = j->jdir_fd;
}

int
journal_open(const struct journal_config *cfg, struct journal **ret,
    struct errbuf *reterr)
{
	struct journal *j = NULL;
	struct replay rp;
	int r;

	r = journal_new_empty(cfg, &j);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r, "out of memory");
	}
	r = state_open(j, true, reterr);
	if (r < 0) {
		goto fail;
	}
	boot_id_read(j->ops, j->boot_id);
	r = j->ops->unlinkat(j->state_fd, CKPT_TMP_NAME, 0);
	if (r < 0 && r != -ENOENT) {
		r = errbuf_set(reterr, ERR_DISK_ERROR, r,
		    "cannot remove %s/%s: %s", j->state_dir, CKPT_TMP_NAME,
		    strerror(-r));
		goto fail;
	}
	replay_init(&rp, j);
	rp.apply = cfg->apply;
	rp.userdata = cfg->userdata;
	rp.cut_tail = true;
	r = replay_run(&rp, reterr);
	if (r < 0) {
		replay_fini(&rp);
		goto fail;
	}
	j->last_seq = rp.next - 1;
	j->ckpt_seq = rp.ckpt_seq;
	j->seg_bytes = rp.seg_bytes;
	j->max_number = rp.max_number;
	j->old_segs = TAKE_PTR(rp.segs);
	j->n_old_segs = rp.nsegs;
	replay_fini(&rp);
	/* Every start opens a new segment (2.6 step 6). */
	r = segment_create(j, j->max_number + 1, j->last_seq + 1, &j->seg_fd,
	    &j->seg_salt, reterr);
	if (r < 0) {
		goto fail;
	}
	j->seg_number = j->max_number;
	j->seg_off = JOURNAL_HEADER_SIZE;
	reserve_ensure(j);
	if (j->failed) {
		r = errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO,
		    "fsync of %s failed", j->state_dir);
		goto fail;
	}
	*ret = j;
	return 0;
fail:
	journal_destroy(j);
	return r;
}

/* ---- appending and committing ---- */

bool
journal_pending(const struct journal *j)
{
	return j && j->npend > 0;
}

size_t
journal_pending_count(const struct journal *j)
{
	return j ? j->npend : 0;
}

uint64_t
journal_batch_id(const struct journal *j)
{
	return j ? j->batch_id : 0;
}

int
journal_pending_foreach(const struct journal *j, size_t from,
    journal_apply_fn *fn, void *userdata, struct errbuf *reterr)
{
	for (size_t i = from; i < j->npend; i++) {
		const struct pending *pd = &j->pend[i];
		json_object *o = NULL;
		int r;

		/* The bytes the commit will write and apply, parsed the
		 * same way: a view built from them cannot differ from what
		 * the commit makes of them. */
		r = payload_parse(j->buf + pd->off + 16, pd->len, &o);
		if (r < 0) {
			return errbuf_set(reterr, ERR_INTERNAL, r,
			    "cannot parse a pending journal record");
		}
		r = fn(userdata, pd->type, pd->seq, o, reterr);
		json_object_put(o);
		if (r < 0) {
			return r;
		}
	}
	return 0;
}

bool
journal_failed(const struct journal *j)
{
	return j && j->failed;
}

uint64_t
journal_last_seq(const struct journal *j)
{
	return j ? j->last_seq : 0;
}

int
journal_append(struct journal *j, uint16_t type, json_object *payload,
    bool reserve_space, journal_done_fn *done, void *userdata,
    struct errbuf *reterr)
{
	const char *text;
	size_t len, need;
	uint64_t seq;
	ssize_t n;

	if (j->failed) {
		return errbuf_set(reterr, ERR_STORAGE_FAILED, -EROFS, "%s",
		    errcode_message(ERR_STORAGE_FAILED));
	}
	if (!records_type_known(type) || type == JOURNAL_REC_CHECKPOINT ||
	    !json_object_is_type(payload, json_type_object)) {
		return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
		    "invalid journal record (type %u)", type);
	}
	text = json_object_to_json_string_length(payload,
	    JSON_C_TO_STRING_PLAIN, &len);
	if (!text) {
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
		    "out of memory");
	}
	if (len > JOURNAL_RECORD_MAX) {
		return errbuf_set(reterr, ERR_BAD_ARGUMENT, -E2BIG,
		    "the change is too large to record (%zu bytes, at most "
		    "%u)",
		    len, JOURNAL_RECORD_MAX);
	}
	need = len + JOURNAL_RECORD_OVERHEAD;
	if (j->len + need > JOURNAL_BATCH_MAX) {
		return errbuf_set(reterr, ERR_BUSY, -ENOBUFS,
		    "too many changes wait for the disk");
	}
	if (reserve_space) {
		struct statvfs st;
		int r = j->ops->fstatvfs(j->seg_fd, &st);

		if (r == 0 &&
		    (uint64_t) st.f_bavail * st.f_frsize < j->min_free) {
			return errbuf_set(reterr, ERR_DISK_FULL, -ENOSPC,
			    "less than %" PRIu64 " bytes free for the journal "
			    "in %s",
			    j->min_free, j->state_dir);
		}
	}
	if (j->len + need > j->cap) {
		size_t cap = j->cap ? j->cap : 4096;
		uint8_t *nb;

		while (cap < j->len + need) {
			cap *= 2;
		}
		nb = realloc(j->buf, cap);
		if (!nb) {
			return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
			    "out of memory");
		}
		j->buf = nb;
		j->cap = cap;
	}
	if (j->npend == j->cappend) {
		size_t cap = j->cappend ? j->cappend * 2 : 16;
		struct pending *np = realloc(j->pend, cap * sizeof(*np));

		if (!np) {
			return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
			    "out of memory");
		}
		j->pend = np;
		j->cappend = cap;
	}
	seq = j->last_seq + j->npend + 1;
	n = journal_record_encode(j->seg_salt, type, seq, text, len,
	    JOURNAL_RECORD_MAX, j->buf + j->len);
	if (n < 0) {
		return errbuf_set(reterr, ERR_BAD_ARGUMENT, (int) n,
		    "cannot encode the record");
	}
	j->pend[j->npend++] = (struct pending){
		.type = type,
		.seq = seq,
		.off = j->len,
		.len = len,
		.done = done,
		.userdata = userdata,
	};
	j->len += (size_t) n;
	return 0;
}

static void
batch_fail(struct pending *pend, size_t n, int r, const struct errbuf *e)
{
	for (size_t i = 0; i < n; i++) {
		if (pend[i].done) {
			pend[i].done(pend[i].userdata, r, e);
		}
	}
}

/* Hands the batch to the caller's locals, so that done callbacks may
 * append the next batch while we iterate. */
static void
batch_take(struct journal *j, uint8_t **buf, size_t *cap,
    struct pending **pend, size_t *npend, size_t *cappend)
{
	*buf = j->buf;
	*cap = j->cap;
	*pend = j->pend;
	*npend = j->npend;
	*cappend = j->cappend;
	j->batch_id++;
	j->buf = NULL;
	j->len = j->cap = 0;
	j->pend = NULL;
	j->npend = j->cappend = 0;
}

static void
batch_give_back(struct journal *j, uint8_t *buf, size_t cap,
    struct pending *pend, size_t cappend)
{
	if (!j->buf) {
		j->buf = buf;
		j->cap = cap;
		j->len = 0;
	} else {
		free(buf);
	}
	if (!j->pend) {
		j->pend = pend;
		j->cappend = cappend;
		j->npend = 0;
	} else {
		free(pend);
	}
}

int
journal_commit(struct journal *j)
{
	struct errbuf e;
	struct pending *pend;
	size_t npend, cap, cappend, len = j->len;
	uint8_t *buf;
	int r;

	if (j->npend == 0) {
		return 0;
	}
	if (j->in_commit) {
		return -EBUSY;
	}
	j->in_commit = true;
	batch_take(j, &buf, &cap, &pend, &npend, &cappend);
	errbuf_clear(&e);
	if (j->failed) {
		r = errbuf_set(&e, ERR_STORAGE_FAILED, -EROFS, "%s",
		    errcode_message(ERR_STORAGE_FAILED));
		goto fail;
	}
	r = write_full(j->ops, j->seg_fd, buf, len, j->seg_off);
	if (r < 0) {
		/* Cut the partial write off again and make that durable, so
		 * that no stale record can reappear behind the next batch
		 * (2.8). The file stays trustworthy and usable. */
		int t = j->ops->ftruncate(j->seg_fd, (off_t) j->seg_off);

		if (t == 0) {
			t = j->ops->fdatasync(j->seg_fd);
		}
		if (t < 0) {
			j->failed = true;
			r = errbuf_set(&e, ERR_STORAGE_FAILED, -EIO, "%s",
			    errcode_message(ERR_STORAGE_FAILED));
			goto fail;
		}
		errbuf_set(&e,
		    r == -ENOSPC || r == -EDQUOT ? ERR_DISK_FULL :
						   ERR_DISK_ERROR,
		    r, "cannot write the journal in %s: %s", j->state_dir,
		    strerror(-r));
		goto fail;
	}
	r = j->ops->fdatasync(j->seg_fd);
	if (r < 0) {
		/* The kernel may have dropped the pages already: nothing since
		 * the last good sync is durable, and no later sync on this fd
		 * would tell the truth (2.8). */
		j->failed = true;
		r = errbuf_set(&e, ERR_STORAGE_FAILED, -EIO, "%s",
		    errcode_message(ERR_STORAGE_FAILED));
		goto fail;
	}
	j->seg_off += len;
	j->seg_bytes += len;
	j->last_seq += npend;
	for (size_t i = 0; i < npend && j->apply; i++) {
		json_object *o = NULL;
		struct errbuf ae;

		/* The same bytes and the same function as replay. */
		if (payload_parse(buf + pend[i].off + 16, pend[i].len, &o) ==
		    0) {
			errbuf_clear(&ae);
			(void) j->apply(j->userdata, pend[i].type, pend[i].seq,
			    o, &ae); /* validated before append; a bug */
			json_object_put(o);
		}
	}
	batch_fail(pend, npend, 0, NULL);
	batch_give_back(j, buf, cap, pend, cappend);
	j->in_commit = false;
	if (j->seg_bytes > j->compact_bytes + j->compact_backoff &&
	    j->snapshot) {
		if (journal_compact(j, NULL) < 0) {
			/* Retry later, not at every commit: each attempt
			 * starts a segment. */
			j->compact_backoff += j->compact_bytes / 4 + 1;
		}
		if (j->failed) {
			return -EIO;
		}
	}
	return 0;
fail:
	batch_fail(pend, npend, r, &e);
	batch_give_back(j, buf, cap, pend, cappend);
	j->in_commit = false;
	return r;
}

/* ---- compaction ---- */

/* Starts a new segment; the open one is trimmed, synced and closed and
 * joins the old ones (2.7 step 1). */
static int
journal_rotate(struct journal *j, struct errbuf *reterr)
{
	const struct fileops *ops = j->ops;
	uint64_t *no;
	uint64_t salt;
	int fd, r;

	no = realloc(j->old_segs, (j->n_old_segs + 1) * sizeof(*no));
	if (!no) {
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
		    "out of memory");
	}
	j->old_segs = no;
	/* Give the preallocation back, and sync before close (2.8). */
	r = ops->ftruncate(j->seg_fd, (off_t) j->seg_off);
	if (r == 0) {
		r = ops->fdatasync(j->seg_fd);
		if (r < 0) {
			j->failed = true;
			return errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO,
			    "%s", errcode_message(ERR_STORAGE_FAILED));
		}
	} else {
		return errbuf_set(reterr, ERR_DISK_ERROR, r,
		    "cannot trim the journal segment: %s", strerror(-r));
	}
	r = segment_create(j, j->max_number + 1, j->last_seq + 1, &fd, &salt,
	    reterr);
	if (r < 0) {
		return r;
	}
	if (ops->close(j->seg_fd) < 0) {
		/* It was synced; a late error still means lost data. */
		j->failed = true;
		(void) ops->close(fd); /* failed journal: no more syncs */
		return errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO, "%s",
		    errcode_message(ERR_STORAGE_FAILED));
	}
	j->old_segs[j->n_old_segs++] = j->seg_number;
	j->seg_fd = fd;
	j->seg_salt = salt;
	j->seg_number = j->max_number;
	j->seg_off = JOURNAL_HEADER_SIZE;
	/* The records already encoded in the batch carry the old salt. */
	for (size_t i = 0; i < j->npend; i++) {
		struct pending *p = &j->pend[i];

		(void) journal_record_encode(salt, p->type, p->seq,
		    j->buf + p->off + 16, p->len, JOURNAL_RECORD_MAX,
		    j->buf + p->off);
	}
	return 0;
}

static int
checkpoint_write(struct journal *j, const uint8_t *data, size_t len)
{
	const struct fileops *ops = j->ops;
	int fd, r;

	r = ops->unlinkat(j->state_fd, CKPT_TMP_NAME, 0);
	if (r < 0 && r != -ENOENT) {
		return r;
	}
	fd = ops->openat(j->state_fd, CKPT_TMP_NAME,
	    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		return fd;
	}
	r = write_full(ops, fd, data, len, 0);
	if (r < 0) {
		(void) ops->close(fd); /* unsynced, removed */
		(void) ops->unlinkat(j->state_fd, CKPT_TMP_NAME, 0);
		return r;
	}
	r = ops->fsync(fd);
	if (r < 0) {
		j->failed = true;
		(void) ops->close(fd); /* failed for good */
		return -EIO;
	}
	if (ops->close(fd) < 0) {
		j->failed = true;
		return -EIO;
	}
	return 0;
}

int
journal_compact(struct journal *j, struct errbuf *reterr)
{
	const struct fileops *ops = j->ops;
	CLEANUP_JSON json_object *snap = NULL;
	CLEANUP_FREE uint8_t *data = NULL;
	struct hdr h = { 0 };
	const char *text;
	uint64_t s;
	size_t len;
	ssize_t n;
	int r;

	if (j->failed) {
		return errbuf_set(reterr, ERR_STORAGE_FAILED, -EROFS, "%s",
		    errcode_message(ERR_STORAGE_FAILED));
	}
	if (!j->snapshot || j->in_commit) {
		return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
		    "compaction is not possible now");
	}
	if (j->last_seq == 0 ||
	    (j->last_seq == j->ckpt_seq && j->n_old_segs == 0)) {
		return 0; /* nothing to fold */
	}
	/* Step 1: freeze the old segments. */
	r = journal_rotate(j, reterr);
	if (r < 0) {
		return r;
	}
	/* Step 2: the state as of S; memory holds only committed state. */
	s = j->last_seq;
	snap = j->snapshot(j->userdata);
	if (!snap) {
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
		    "cannot snapshot the state");
	}
	text = json_object_to_json_string_length(snap, JSON_C_TO_STRING_PLAIN,
	    &len);
	if (!text || !json_object_is_type(snap, json_type_object)) {
		return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
		    "invalid snapshot");
	}
	if (len > JOURNAL_CHECKPOINT_MAX) {
		return errbuf_set(reterr, ERR_INTERNAL, -E2BIG,
		    "the state is too large for a checkpoint (%zu bytes)", len);
	}
	data = malloc(JOURNAL_HEADER_SIZE + len + JOURNAL_RECORD_OVERHEAD);
	if (!data) {
		return errbuf_set(reterr, ERR_INTERNAL, -ENOMEM,
		    "out of memory");
	}
	r = ops->getrandom(&h.salt, sizeof(h.salt));
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r, "getrandom failed");
	}
	h.number = j->seg_number;
	h.first_seq = s;
	memcpy(h.boot_id, j->boot_id, 16);
	header_encode(data, CKPT_MAGIC, &h);
	n = journal_record_encode(h.salt, JOURNAL_REC_CHECKPOINT, s, text,
	    len, JOURNAL_CHECKPOINT_MAX, data + JOURNAL_HEADER_SIZE);
	if (n < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, (int) n,
		    "cannot encode the checkpoint");
	}
	/* Steps 2-3: checkpoint.tmp, fsync, rename, fsync(state dir). */
	r = checkpoint_write(j, data, JOURNAL_HEADER_SIZE + (size_t) n);
	if ((r == -ENOSPC || r == -EDQUOT) && !j->failed) {
		/* The reserve exists for exactly this (2.9). */
		if (ops->unlinkat(j->state_fd, RESERVE_NAME, 0) == 0) {
			j->reserve_dropped = true;
			r = checkpoint_write(j, data,
			    JOURNAL_HEADER_SIZE + (size_t) n);
		}
	}
	if (r < 0) {
		return errbuf_set(reterr,
		    j->failed ? ERR_STORAGE_FAILED :
		    r == -ENOSPC || r == -EDQUOT ? ERR_DISK_FULL :
						  ERR_DISK_ERROR,
		    r, "cannot write %s/%s: %s", j->state_dir, CKPT_TMP_NAME,
		    strerror(-r));
	}
	r = ops->renameat(j->state_fd, CKPT_TMP_NAME, j->state_fd, CKPT_NAME);
	if (r < 0) {
		(void) ops->unlinkat(j->state_fd, CKPT_TMP_NAME, 0);
		return errbuf_set(reterr, ERR_DISK_ERROR, r,
		    "cannot rename %s/%s: %s", j->state_dir, CKPT_TMP_NAME,
		    strerror(-r));
	}
	r = ops->fsync(j->state_fd);
	if (r < 0) {
		j->failed = true;
		return errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO, "%s",
		    errcode_message(ERR_STORAGE_FAILED));
	}
	j->ckpt_seq = s;
	/* Step 4: only now the covered segments go. */
	for (size_t i = 0; i < j->n_old_segs; i++) {
		char file[SEG_NAME_LEN + 1];

		seg_name(file, sizeof(file), j->old_segs[i]);
		r = ops->unlinkat(j->jdir_fd, file, 0);
		if (r < 0 && r != -ENOENT) {
			return errbuf_set(reterr, ERR_DISK_ERROR, r,
			    "cannot remove %s/%s/%s: %s", j->state_dir,
			    JOURNAL_DIR, file, strerror(-r));
		}
	}
	r = ops->fsync(j->jdir_fd);
	if (r < 0) {
		j->failed = true;
		return errbuf_set(reterr, ERR_STORAGE_FAILED, -EIO, "%s",
		    errcode_message(ERR_STORAGE_FAILED));
	}
	j->n_old_segs = 0;
	j->seg_bytes = j->seg_off - JOURNAL_HEADER_SIZE;
	j->compact_backoff = 0;
	if (j->reserve_dropped) {
		reserve_ensure(j);
	}
	return 0;
}

void
journal_free(struct journal *j)
{
	if (!j) {
		return;
	}
	if (j->npend > 0 && !j->failed) {
		(void) journal_commit(j); /* callbacks report the outcome */
	}
	if (j->npend > 0) {
		struct errbuf e;

		errbuf_set(&e, ERR_STORAGE_FAILED, -EROFS, "%s",
		    errcode_message(ERR_STORAGE_FAILED));
		batch_fail(j->pend, j->npend, -EROFS, &e);
		j->npend = 0;
	}
	if (j->seg_fd >= 0 && !j->failed) {
		/* Give the preallocation back; sync before close (2.8). */
		if (j->ops->ftruncate(j->seg_fd, (off_t) j->seg_off) == 0) {
			(void) j->ops->fdatasync(j->seg_fd); /* nothing new */
		}
	}
	journal_destroy(j);
}

/* ---- check and repair ---- */

/* Replaces segment idx by its records before damage_off (new salt), or
 * removes it when none are left; the original goes to quarantine/. */
static int
repair_segment(struct journal *j, struct replay *rp, struct errbuf *reterr)
{
	const struct fileops *ops = j->ops;
	CLEANUP_FREE uint8_t *data = NULL;
	CLEANUP_FREE uint8_t *out = NULL;
	char file[SEG_NAME_LEN + 1], tmp[SEG_NAME_LEN + 8], base[64];
	struct journal_record_view v;
	struct hdr h, nh = { 0 };
	size_t size, off, olen = 0;
	int fd, r;

	seg_name(file, sizeof(file), rp->segs[rp->damage_seg]);
	fd = ops->openat(j->jdir_fd, file, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		return fd;
	}
	r = read_all(ops, fd, SEGMENT_FILE_MAX, &data, &size);
	(void) ops->close(fd); /* read-only */
	if (r < 0) {
		return r;
	}
	snprintf(base, sizeof(base), "%s-damaged", file);
	r = quarantine_write(rp, base, data, size);
	if (r < 0) {
		return r;
	}
	if (header_decode(data, size, SEG_MAGIC, &h) == HDR_OK &&
	    rp->damage_off > JOURNAL_HEADER_SIZE) {
		out = malloc(rp->damage_off);
		if (!out) {
			return -ENOMEM;
		}
		r = ops->getrandom(&nh.salt, sizeof(nh.salt));
		if (r < 0) {
			return r;
		}
		nh.number = h.number;
		nh.first_seq = h.first_seq;
		memcpy(nh.boot_id, j->boot_id, 16);
		header_encode(out, SEG_MAGIC, &nh);
		olen = JOURNAL_HEADER_SIZE;
		off = JOURNAL_HEADER_SIZE;
		while (off < rp->damage_off &&
		    journal_record_decode(h.salt, data + off, size - off,
			JOURNAL_RECORD_MAX, &v) == JOURNAL_DECODE_OK) {
			olen += (size_t) journal_record_encode(nh.salt, v.type,
			    v.seq, v.payload, v.len, JOURNAL_RECORD_MAX,
			    out + olen);
			off += v.size;
		}
	}
	if (olen == 0) {
		r = ops->unlinkat(j->jdir_fd, file, 0);
	} else {
		/* The repaired copy replaces the damaged file atomically. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", file);
		(void) ops->unlinkat(j->jdir_fd, tmp, 0); /* a stray */
		fd = ops->openat(j->jdir_fd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			return fd;
		}
		r = write_full(ops, fd, out, olen, 0);
		if (r == 0) {
			r = ops->fsync(fd);
		}
		if (ops->close(fd) < 0 && r == 0) {
			r = -EIO;
		}
		if (r == 0) {
			r = ops->renameat(j->jdir_fd, tmp, j->jdir_fd, file);
		}
	}
	if (r == 0) {
		r = ops->fsync(j->jdir_fd);
	}
	if (r == 0 && rp->out) {
		fprintf(rp->out,
		    "repaired %s: kept the records before offset %" PRIu64
		    ", moved the original to %s/\n",
		    file, rp->damage_off, QUARANTINE_DIR);
	}
	(void) reterr;
	return r;
}

static int
repair_checkpoint(struct journal *j, struct replay *rp)
{
	const struct fileops *ops = j->ops;
	CLEANUP_FREE uint8_t *data = NULL;
	size_t size;
	int fd, r;

	fd = ops->openat(j->state_fd, CKPT_NAME, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		return fd;
	}
	r = read_all(ops, fd, JOURNAL_HEADER_SIZE + JOURNAL_CHECKPOINT_MAX +
		JOURNAL_RECORD_OVERHEAD, &data, &size);
	(void) ops->close(fd); /* read-only */
	if (r < 0 && r != -EFBIG) {
		return r;
	}
	r = quarantine_write(rp, "checkpoint-damaged", data, data ? size : 0);
	if (r == 0) {
		r = ops->unlinkat(j->state_fd, CKPT_NAME, 0);
	}
	if (r == 0) {
		r = ops->fsync(j->state_fd);
	}
	if (r == 0 && rp->out) {
		fprintf(rp->out, "moved the damaged checkpoint to %s/\n",
		    QUARANTINE_DIR);
	}
	return r;
}

int
journal_check(const char *state_dir, bool repair, FILE *out,
    struct errbuf *reterr)
{
	struct journal_config cfg = { .state_dir = state_dir };
	struct journal *j = NULL;
	struct replay rp;
	int r;

	r = journal_new_empty(&cfg, &j);
	if (r < 0) {
		return errbuf_set(reterr, ERR_INTERNAL, r, "out of memory");
	}
	r = state_open(j, false, reterr);
	if (r < 0) {
		goto done;
	}
	boot_id_read(j->ops, j->boot_id);
	/* Each round repairs the first damage; later segments then show as
	 * gaps and are moved aside in turn. Bounded by the file count. */
	for (int round = 0;; round++) {
		replay_init(&rp, j);
		rp.cut_tail = repair;
		rp.out = out;
		r = replay_run(&rp, reterr);
		if (r == 0) {
			if (out) {
				fprintf(out,
				    "journal sound: %" PRIu64 " records, last "
				    "seq %" PRIu64 "\n",
				    rp.records, rp.next - 1);
			}
			replay_fini(&rp);
			break;
		}
		if (out && reterr) {
			fprintf(out, "%s\n", reterr->msg);
		}
		if (!rp.corrupt || !repair || rp.newer || round > 100000) {
			replay_fini(&rp);
			break;
		}
		r = rp.damage_in_ckpt ? repair_checkpoint(j, &rp) :
					repair_segment(j, &rp, reterr);
		replay_fini(&rp);
		if (r < 0) {
			r = errbuf_set(reterr, ERR_DISK_ERROR, r,
			    "repair failed: %s", strerror(-r));
			break;
		}
		errbuf_clear(reterr);
	}
done:
	journal_destroy(j);
	return r;
}
