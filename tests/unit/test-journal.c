/*
 * test-journal.c - the journal (RELIABILITY.md 7: A1-A5, C3, D1, D2, D5).
 *
 * Every test runs in its own temporary directory. File operations go
 * through testops, a wrapper over fileops_real that counts calls, can
 * fail the Nth call of any operation, can skip syncs (for speed where
 * durability is not the subject) and remembers descriptors whose sync
 * failed, to prove that they are never synced again. The C3 test drives
 * the journal through tests/lib/crashfs and checks every post-crash state
 * it builds. Random choices print their seed; CWT_SEED repeats a run.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/cleanup.h"
#include "common/crc32c.h"
#include "common/errcode.h"
#include "core/records.h"
#include "daemon/fileops.h"
#include "daemon/journal.h"
#include "lib/crashfs.h"

/* ---------------------------------------------------------------- */
/* Random numbers: xorshift, seeded and printed.                     */

static uint64_t rng_state = 88172645463325252ull;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t
rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static uint64_t
seed_init(const char *what)
{
	const char *env = getenv("CWT_SEED");
	uint64_t seed = 0;

	if (env && sscanf(env, "%" SCNu64, &seed) == 1 && seed) {
		rng_state = seed;
	} else {
		seed = (uint64_t) time(NULL) * 2654435761u ^ (uint64_t) getpid();
		rng_state = seed ? seed : 1;
	}
	printf("# %s: seed %" PRIu64 " (CWT_SEED=%" PRIu64 " repeats it)\n",
	    what, seed, seed);
	return seed;
}

/* ---------------------------------------------------------------- */
/* testops: counting, fault-injecting fileops.                       */

enum op {
	OP_OPENAT, OP_CLOSE, OP_PREAD, OP_PWRITEV, OP_FDATASYNC, OP_FSYNC,
	OP_FTRUNCATE, OP_FALLOCATE, OP_RENAMEAT, OP_UNLINKAT, OP_MKDIRAT,
	OP_FLOCK, OP_SYNCFS, OP_FSTATVFS, OP_FSTAT, OP_FADVISE, OP_GETRANDOM,
	OP_LISTDIR, OP_COUNT
};

static const char *const op_names[OP_COUNT] = { "openat", "close", "pread",
	"pwritev", "fdatasync", "fsync", "ftruncate", "fallocate", "renameat",
	"unlinkat", "mkdirat", "flock", "syncfs", "fstatvfs", "fstat",
	"fadvise", "getrandom", "listdir" };

static struct {
	bool nosync;     /* syncs succeed without reaching the disk */
	bool noalloc;    /* fallocate is "not supported" */
	int fail_op;     /* -1: none */
	unsigned fail_at;
	bool fail_persist;
	int fail_err;
	unsigned injected;
	unsigned counts[OP_COUNT];
	int bad_fds[64]; /* fds whose sync failed */
	unsigned nbad;
	unsigned sync_after_fail;
	long long bavail; /* >= 0: fstatvfs reports this many bytes */
	const struct fileops *lower;
} T;

static void
t_reset(void)
{
	memset(&T, 0, sizeof(T));
	T.fail_op = -1;
	T.bavail = -1;
	T.lower = &fileops_real;
	/* Preallocating 1 MiB per segment costs milliseconds even on tmpfs;
	 * the journal works without it, and the tests that care turn it on. */
	T.noalloc = true;
}

static int
t_inject(enum op op)
{
	unsigned n = ++T.counts[op];

	if ((int) op != T.fail_op) {
		return 0;
	}
	if (n == T.fail_at || (T.fail_persist && n > T.fail_at)) {
		T.injected++;
		return -T.fail_err;
	}
	return 0;
}

static void
t_sync_check(int fd)
{
	for (unsigned i = 0; i < T.nbad; i++) {
		if (T.bad_fds[i] == fd) {
			T.sync_after_fail++;
		}
	}
}

static void
t_sync_failed(int fd)
{
	if (T.nbad < ARRAY_SIZE(T.bad_fds)) {
		T.bad_fds[T.nbad++] = fd;
	}
}

static int
t_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	int r = t_inject(OP_OPENAT);

	return r ? r : T.lower->openat(dirfd, path, flags, mode);
}

static int
t_close(int fd)
{
	int r = t_inject(OP_CLOSE);

	/* fd numbers are reused: forget a failed fd once it is closed. */
	for (unsigned i = 0; i < T.nbad; i++) {
		if (T.bad_fds[i] == fd) {
			T.bad_fds[i] = -1;
		}
	}
	(void) T.lower->close(fd); /* always really close: no leaks */
	return r;
}

static ssize_t
t_pread(int fd, void *buf, size_t len, off_t off)
{
	int r = t_inject(OP_PREAD);

	return r ? r : T.lower->pread(fd, buf, len, off);
}

static ssize_t
t_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	int r = t_inject(OP_PWRITEV);

	if (r == -ENOSPC && iovcnt == 1 && iov[0].iov_len > 1) {
		/* A short write: half of it lands, as on a full disk. */
		struct iovec half = { iov[0].iov_base, iov[0].iov_len / 2 };

		return T.lower->pwritev(fd, &half, 1, off);
	}
	return r ? r : T.lower->pwritev(fd, iov, iovcnt, off);
}

static int
t_fdatasync(int fd)
{
	int r;

	t_sync_check(fd);
	r = t_inject(OP_FDATASYNC);
	if (r) {
		t_sync_failed(fd);
		return r;
	}
	return T.nosync ? 0 : T.lower->fdatasync(fd);
}

static int
t_fsync(int fd)
{
	int r;

	t_sync_check(fd);
	r = t_inject(OP_FSYNC);
	if (r) {
		t_sync_failed(fd);
		return r;
	}
	return T.nosync ? 0 : T.lower->fsync(fd);
}

static int
t_ftruncate(int fd, off_t len)
{
	int r = t_inject(OP_FTRUNCATE);

	return r ? r : T.lower->ftruncate(fd, len);
}

static int
t_fallocate(int fd, int mode, off_t off, off_t len)
{
	int r = t_inject(OP_FALLOCATE);

	if (r) {
		return r;
	}
	return T.noalloc ? -EOPNOTSUPP : T.lower->fallocate(fd, mode, off, len);
}

static int
t_renameat(int od, const char *op, int nd, const char *np)
{
	int r = t_inject(OP_RENAMEAT);

	return r ? r : T.lower->renameat(od, op, nd, np);
}

static int
t_unlinkat(int dirfd, const char *path, int flags)
{
	int r = t_inject(OP_UNLINKAT);

	return r ? r : T.lower->unlinkat(dirfd, path, flags);
}

static int
t_mkdirat(int dirfd, const char *path, mode_t mode)
{
	int r = t_inject(OP_MKDIRAT);

	return r ? r : T.lower->mkdirat(dirfd, path, mode);
}

static int
t_flock(int fd, int op)
{
	int r = t_inject(OP_FLOCK);

	return r ? r : T.lower->flock(fd, op);
}

static int
t_syncfs(int fd)
{
	int r = t_inject(OP_SYNCFS);

	if (r) {
		return r;
	}
	return T.nosync ? 0 : T.lower->syncfs(fd);
}

static int
t_fstatvfs(int fd, struct statvfs *ret)
{
	int r = t_inject(OP_FSTATVFS);

	if (r) {
		return r;
	}
	r = T.lower->fstatvfs(fd, ret);
	if (r == 0 && T.bavail >= 0) {
		ret->f_frsize = 1;
		ret->f_bavail = (fsblkcnt_t) T.bavail;
	}
	return r;
}

static int
t_fstat(int fd, struct stat *ret)
{
	int r = t_inject(OP_FSTAT);

	return r ? r : T.lower->fstat(fd, ret);
}

static int
t_fadvise(int fd, off_t off, off_t len, int advice)
{
	int r = t_inject(OP_FADVISE);

	return r ? r : T.lower->fadvise(fd, off, len, advice);
}

static int
t_getrandom(void *buf, size_t len)
{
	int r = t_inject(OP_GETRANDOM);

	return r ? r : T.lower->getrandom(buf, len);
}

static int
t_listdir(int dirfd, char ***names, size_t *n)
{
	int r = t_inject(OP_LISTDIR);

	return r ? r : T.lower->listdir(dirfd, names, n);
}

static const struct fileops testops = {
	.openat = t_openat,
	.close = t_close,
	.pread = t_pread,
	.pwritev = t_pwritev,
	.fdatasync = t_fdatasync,
	.fsync = t_fsync,
	.ftruncate = t_ftruncate,
	.fallocate = t_fallocate,
	.renameat = t_renameat,
	.unlinkat = t_unlinkat,
	.mkdirat = t_mkdirat,
	.flock = t_flock,
	.syncfs = t_syncfs,
	.fstatvfs = t_fstatvfs,
	.fstat = t_fstat,
	.fadvise = t_fadvise,
	.getrandom = t_getrandom,
	.listdir = t_listdir,
};

/* ---------------------------------------------------------------- */
/* The model: what apply() saw, and a snapshot of it.               */

struct rec {
	uint16_t type;
	uint64_t seq;
	char *payload;
};

struct model {
	struct rec *v;
	size_t n, cap;
	unsigned checkpoints; /* CHECKPOINT records applied */
};

static void
model_clear(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].payload);
	}
	m->n = 0;
}

static void
model_free(struct model *m)
{
	model_clear(m);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static void
model_push(struct model *m, uint16_t type, uint64_t seq, const char *text)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		assert_non_null(m->v);
	}
	m->v[m->n].type = type;
	m->v[m->n].seq = seq;
	m->v[m->n].payload = strdup(text);
	assert_non_null(m->v[m->n].payload);
	m->n++;
}

static int
model_apply(void *userdata, uint16_t type, uint64_t seq, json_object *payload,
    struct errbuf *reterr)
{
	struct model *m = userdata;
	json_object *arr;

	if (type != JOURNAL_REC_CHECKPOINT) {
		if (m->n > 0 && seq != m->v[m->n - 1].seq + 1) {
			return errbuf_set(reterr, ERR_INTERNAL, -EINVAL,
			    "model: seq %" PRIu64 " after %" PRIu64, seq,
			    m->v[m->n - 1].seq);
		}
		model_push(m, type, seq,
		    json_object_to_json_string_ext(payload,
			JSON_C_TO_STRING_PLAIN));
		return 0;
	}
	model_clear(m);
	m->checkpoints++;
	if (!json_object_object_get_ex(payload, "records", &arr)) {
		return errbuf_set(reterr, ERR_INTERNAL, -EINVAL, "no records");
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *r = json_object_array_get_idx(arr, i);

		model_push(m,
		    (uint16_t) json_object_get_int(
			json_object_array_get_idx(r, 0)),
		    (uint64_t) json_object_get_int64(
			json_object_array_get_idx(r, 1)),
		    json_object_get_string(json_object_array_get_idx(r, 2)));
	}
	return 0;
}

static json_object *
model_snapshot(void *userdata)
{
	struct model *m = userdata;
	json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < m->n; i++) {
		json_object *r = json_object_new_array();

		json_object_array_add(r, json_object_new_int(m->v[i].type));
		json_object_array_add(r,
		    json_object_new_int64((int64_t) m->v[i].seq));
		json_object_array_add(r,
		    json_object_new_string(m->v[i].payload));
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "records", arr);
	return o;
}

/* ---------------------------------------------------------------- */
/* Files and directories.                                           */

struct tdir {
	char root[256];
	char state[300];
};

static void
tdir_new(struct tdir *d)
{
	const char *base = getenv("TMPDIR");

	/* Durability is modelled (testops, crashfs), not measured: prefer
	 * memory when no TMPDIR was chosen. */
	if (!base || !base[0]) {
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	}
	snprintf(d->root, sizeof(d->root), "%s/cwt-journal-XXXXXX", base);
	assert_non_null(mkdtemp(d->root));
	snprintf(d->state, sizeof(d->state), "%s/state", d->root);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

static void
rm_rf(const char *path)
{
	(void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
tdir_free(struct tdir *d)
{
	rm_rf(d->root);
}

static uint8_t *
file_read(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f) {
		return NULL;
	}
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	buf = malloc((size_t) len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t) len, f), (size_t) len);
	fclose(f);
	*ret_len = (size_t) len;
	return buf;
}

static void
file_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static bool
file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static size_t
dir_count(const char *path)
{
	char **names = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		return 0;
	}
	assert_int_equal(fileops_real.listdir(fd, &names, &n), 0);
	fileops_names_free(names, n);
	close(fd);
	return n;
}

static void
seg_path(char *buf, size_t len, const char *state, uint64_t number)
{
	snprintf(buf, len, "%s/journal/%016" PRIu64 ".log", state, number);
}

/* ---------------------------------------------------------------- */
/* Opening, appending, acknowledgements.                             */

static int
jopen(const char *state, struct model *m, uint64_t compact,
    struct journal **ret, struct errbuf *e)
{
	struct journal_config cfg = {
		.state_dir = state,
		.ops = &testops,
		.apply = model_apply,
		.snapshot = model_snapshot,
		.userdata = m,
		.compact_bytes = compact,
	};

	errbuf_clear(e);
	model_clear(m);
	return journal_open(&cfg, ret, e);
}

struct ack {
	int status;
	bool called;
	enum errcode code;
};

#define MAX_IDS 200000
static struct ack acks[MAX_IDS];

static void
on_done(void *userdata, int status, const struct errbuf *err)
{
	struct ack *a = userdata;

	assert_false(a->called);
	a->called = true;
	a->status = status;
	a->code = err ? err->code : ERR_OK;
}

/* The payload for id: deterministic, so that any copy can be checked. */
static char *
payload_text(unsigned id, size_t pad)
{
	char *s = malloc(pad + 64);

	assert_non_null(s);
	snprintf(s, 64, "{\"id\":%u,\"pad\":\"", id);
	size_t l = strlen(s);
	for (size_t i = 0; i < pad; i++) {
		s[l + i] = (char) ('a' + (id + i) % 26);
	}
	memcpy(s + l + pad, "\"}", 3);
	return s;
}

static size_t
payload_pad(unsigned id)
{
	return (id * 37u) % 200u;
}

static int
append_id(struct journal *j, unsigned id, struct errbuf *e)
{
	char *text = payload_text(id, payload_pad(id));
	json_object *o = json_tokener_parse(text); /* test data, trusted */
	int r;

	assert_non_null(o);
	acks[id] = (struct ack){ 0 };
	r = journal_append(j, JOURNAL_REC_TEST, o, false, on_done, &acks[id],
	    e);
	json_object_put(o);
	free(text);
	return r;
}

static unsigned
payload_id(const char *payload)
{
	unsigned id = 0;

	assert_int_equal(sscanf(payload, "{\"id\":%u", &id), 1);
	return id;
}

/* After recovery: seqs 1..n contiguous (apply checks), every acked id
 * present exactly once with its exact bytes, no unknown ids. */
static void
check_invariants(const struct model *m, unsigned nids)
{
	static unsigned char seen[MAX_IDS];

	memset(seen, 0, nids);
	for (size_t i = 0; i < m->n; i++) {
		unsigned id = payload_id(m->v[i].payload);
		char *want;

		assert_true(id < nids);
		assert_int_equal(seen[id], 0);
		seen[id] = 1;
		want = payload_text(id, payload_pad(id));
		assert_string_equal(m->v[i].payload, want);
		free(want);
		if (i > 0) {
			assert_int_equal(m->v[i].seq, m->v[i - 1].seq + 1);
		}
	}
	for (unsigned id = 0; id < nids; id++) {
		if (acks[id].called && acks[id].status == 0 && !seen[id]) {
			fail_msg("acknowledged id %u is missing", id);
		}
	}
}

/* ---------------------------------------------------------------- */
/* A1: round trip.                                                   */

static void
test_record_roundtrip(void **state)
{
	static uint8_t payload[JOURNAL_RECORD_MAX + 1];
	static uint8_t rec[JOURNAL_RECORD_MAX + JOURNAL_RECORD_OVERHEAD + 1];
	struct journal_record_view v;

	(void) state;
	seed_init("A1 records");
	/* 100k records of every type; one in 500 is of the maximum size,
	 * the others up to 2 KiB, so the run stays quick under ASan. */
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t salt = rnd(), seq = rnd() >> 1;
		uint16_t type = (uint16_t) (1 + i % (JOURNAL_REC_COUNT - 1));
		size_t len = i % 500 == 0 ? JOURNAL_RECORD_MAX :
					    1 + rnd_below(2048);
		ssize_t n;

		for (size_t k = 0; k < len; k += 8) {
			uint64_t x = rnd();

			memcpy(payload + k, &x, len - k < 8 ? len - k : 8);
		}
		n = journal_record_encode(salt, type, seq, payload, len,
		    JOURNAL_RECORD_MAX, rec);
		assert_int_equal(n, (ssize_t) (len + JOURNAL_RECORD_OVERHEAD));
		assert_int_equal(journal_record_decode(salt, rec, (size_t) n,
				     JOURNAL_RECORD_MAX, &v),
		    JOURNAL_DECODE_OK);
		assert_int_equal(v.type, type);
		assert_int_equal(v.seq, seq);
		assert_int_equal(v.len, len);
		assert_int_equal(v.size, (size_t) n);
		assert_memory_equal(v.payload, payload, len);
		/* The same bytes under another salt never validate. */
		if (i % 100 == 0) {
			assert_int_equal(journal_record_decode(salt ^ 1, rec,
					     (size_t) n, JOURNAL_RECORD_MAX,
					     &v),
			    JOURNAL_DECODE_INVALID);
		}
	}
	/* Oversize and empty are refused when encoding. */
	assert_int_equal(journal_record_encode(1, 1, 1, payload,
			     JOURNAL_RECORD_MAX + 1, JOURNAL_RECORD_MAX, rec),
	    -E2BIG);
	assert_int_equal(journal_record_encode(1, 1, 1, payload, 0,
			     JOURNAL_RECORD_MAX, rec),
	    -E2BIG);
	assert_int_equal(journal_record_encode(1, 0, 1, payload, 5,
			     JOURNAL_RECORD_MAX, rec),
	    -EINVAL);
	/* Known bytes: the documented layout (doc/journal-format.md). */
	assert_int_equal(journal_record_encode(0x0123456789abcdefull, 24, 7,
			     "{}", 2, JOURNAL_RECORD_MAX, rec),
	    22);
	static const uint8_t head[16] = { 2, 0, 0, 0, 24, 0, 0, 0, 7, 0, 0, 0,
		0, 0, 0, 0 };
	assert_memory_equal(rec, head, 16);
	assert_memory_equal(rec + 16, "{}", 2);
	uint8_t crcin[8 + 18];
	uint64_t salt = 0x0123456789abcdefull;
	for (int k = 0; k < 8; k++) {
		crcin[k] = (uint8_t) (salt >> (8 * k));
	}
	memcpy(crcin + 8, rec, 18);
	uint32_t c = crc32c(crcin, sizeof(crcin));
	assert_int_equal(rec[18] | rec[19] << 8 | rec[20] << 16 |
		(uint32_t) rec[21] << 24,
	    c);
}

/* A random JSON payload: strings with escapes, numbers, nesting. */
static json_object *
random_payload(size_t maxlen)
{
	json_object *o = json_object_new_object();
	size_t n = 1 + rnd_below(6);
	char *s = malloc(maxlen + 1);

	assert_non_null(s);
	for (size_t i = 0; i < n; i++) {
		char key[16];
		size_t len = rnd_below(maxlen / n);

		snprintf(key, sizeof(key), "k%zu", i);
		for (size_t k = 0; k < len; k++) {
			s[k] = (char) (' ' + rnd_below(95));
		}
		s[len] = '\0';
		switch (rnd_below(3)) {
		case 0:
			json_object_object_add(o, key,
			    json_object_new_string(s));
			break;
		case 1:
			json_object_object_add(o, key,
			    json_object_new_int64((int64_t) rnd()));
			break;
		default: {
			json_object *a = json_object_new_array();

			json_object_array_add(a, json_object_new_string(s));
			json_object_array_add(a, json_object_new_boolean(1));
			json_object_object_add(o, key, a);
			break;
		}
		}
	}
	free(s);
	return o;
}

static void
test_journal_roundtrip(void **state)
{
	struct model m = { 0 }, want = { 0 };
	struct journal *j = NULL;
	struct errbuf e;
	struct tdir d;
	uint64_t seq = 0;

	(void) state;
	seed_init("A1 journal");
	t_reset();
	T.nosync = true;
	tdir_new(&d);
	/* Several runs, each with batches of random size, reopened in
	 * between; what replay applies equals what was committed. */
	for (int run = 0; run < 5; run++) {
		assert_int_equal(jopen(d.state, &m, 0, &j, &e), 0);
		assert_int_equal(m.n, want.n);
		for (size_t i = 0; i < m.n; i++) {
			assert_int_equal(m.v[i].seq, want.v[i].seq);
			assert_int_equal(m.v[i].type, want.v[i].type);
			assert_string_equal(m.v[i].payload, want.v[i].payload);
		}
		assert_int_equal(journal_last_seq(j), seq);
		for (int b = 0; b < 40; b++) {
			size_t nb = 1 + rnd_below(30);

			for (size_t k = 0; k < nb; k++) {
				json_object *o = random_payload(
				    rnd_below(50) == 0 ? 60000 : 300);
				uint16_t type = (uint16_t) (1 +
				    rnd_below(JOURNAL_REC_TEST));

				if (type == JOURNAL_REC_CHECKPOINT) {
					type = JOURNAL_REC_TEST;
				}
				assert_int_equal(journal_append(j, type, o,
						     false, NULL, NULL, &e),
				    0);
				model_push(&want, type, ++seq,
				    json_object_to_json_string_ext(o,
					JSON_C_TO_STRING_PLAIN));
				json_object_put(o);
			}
			assert_true(journal_pending(j));
			assert_int_equal(journal_commit(j), 0);
			assert_false(journal_pending(j));
		}
		/* Applied after commit exactly as replay applies. */
		assert_int_equal(m.n, want.n);
		assert_string_equal(m.v[m.n - 1].payload,
		    want.v[want.n - 1].payload);
		journal_free(j);
	}
	/* Oversize is refused at append and changes nothing. */
	assert_int_equal(jopen(d.state, &m, 0, &j, &e), 0);
	{
		size_t big = JOURNAL_RECORD_MAX;
		char *s = malloc(big + 1);
		json_object *o = json_object_new_object();

		memset(s, 'x', big);
		s[big] = '\0';
		json_object_object_add(o, "s", json_object_new_string(s));
		assert_int_equal(journal_append(j, JOURNAL_REC_TEST, o, false,
				     NULL, NULL, &e),
		    -E2BIG);
		assert_false(journal_pending(j));
		json_object_put(o);
		free(s);
	}
	/* Type 0, CHECKPOINT and an unknown type are refused too. */
	{
		json_object *o = json_object_new_object();

		assert_int_equal(journal_append(j, 0, o, false, NULL, NULL, &e),
		    -EINVAL);
		assert_int_equal(journal_append(j, JOURNAL_REC_CHECKPOINT, o,
				     false, NULL, NULL, &e),
		    -EINVAL);
		assert_int_equal(journal_append(j, 999, o, false, NULL, NULL,
				     &e),
		    -EINVAL);
		json_object_put(o);
	}
	journal_free(j);
	model_free(&m);
	model_free(&want);
	tdir_free(&d);
}

/* ---------------------------------------------------------------- */
/* Building a small journal and replaying altered copies of it.     */

struct built {
	uint8_t *seg;   /* the segment file */
	size_t len;
	size_t *ends;   /* end offset of record i */
	char **payloads;
	size_t n;
};

static void
built_free(struct built *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->payloads[i]);
	}
	free(b->payloads);
	free(b->ends);
	free(b->seg);
}

/* Writes nrec records (of about recsize bytes) into one segment and
 * returns its bytes and record boundaries. */
static void
build_journal(size_t nrec, size_t recsize, struct built *b)
{
	struct model m = { 0 };
	struct journal *j = NULL;
	struct errbuf e;
	struct tdir d;
	char path[512];
	size_t off = JOURNAL_HEADER_SIZE;

	t_reset();
	T.nosync = true;
	tdir_new(&d);
	assert_int_equal(jopen(d.state, &m, 1ull << 40, &j, &e), 0);
	b->payloads = calloc(nrec, sizeof(char *));
	b->ends = calloc(nrec, sizeof(size_t));
	b->n = nrec;
	for (size_t i = 0; i < nrec; i++) {
		char *text = payload_text((unsigned) i, recsize);
		json_object *o = json_tokener_parse(text);

		assert_int_equal(journal_append(j, JOURNAL_REC_TEST, o, false,
				     NULL, NULL, &e),
		    0);
		json_object_put(o);
		b->payloads[i] = text;
		off += strlen(text) + JOURNAL_RECORD_OVERHEAD;
		b->ends[i] = off;
		if (i % 3 == 2) {
			assert_int_equal(journal_commit(j), 0);
		}
	}
	journal_free(j);
	seg_path(path, sizeof(path), d.state, 1);
	b->seg = file_read(path, &b->len);
	assert_non_null(b->seg);
	assert_int_equal(b->len, off); /* preallocation trimmed at close */
	model_free(&m);
	tdir_free(&d);
}

/* A state directory holding only journal/0000000000000001.log = data. */
static void
stage(struct tdir *d, const uint8_t *data, size_t len)
{
	char path[512];

	tdir_new(d);
	assert_int_equal(mkdir(d->state, 0700), 0);
	snprintf(path, sizeof(path), "%s/journal", d->state);
	assert_int_equal(mkdir(path, 0700), 0);
	seg_path(path, sizeof(path), d->state, 1);
	file_write(path, data, len);
}

/* Empties directory path (files only). */
static void
dir_clear(const char *path)
{
	char **names = NULL, p[600];
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		return;
	}
	assert_int_equal(fileops_real.listdir(fd, &names, &n), 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s/%s", path, names[i]);
		(void) unlink(p);
	}
	fileops_names_free(names, n);
	close(fd);
}

/* Reuses a staged directory: only segment 1 = data is left. Much cheaper
 * than a new directory for the thousands of bit-flip runs. */
static int
replay_restage(struct tdir *d, const uint8_t *data, size_t len,
    struct model *m, struct errbuf *e)
{
	struct journal *j = NULL;
	char path[512];
	int r;

	snprintf(path, sizeof(path), "%s/journal", d->state);
	dir_clear(path);
	snprintf(path, sizeof(path), "%s/quarantine", d->state);
	dir_clear(path);
	seg_path(path, sizeof(path), d->state, 1);
	file_write(path, data, len);
	r = jopen(d->state, m, 1ull << 40, &j, e);
	journal_free(j);
	return r;
}

/* Replays data as segment 1; returns journal_open's result and fills m. */
static int
replay_bytes(const uint8_t *data, size_t len, struct model *m,
    struct errbuf *e, struct tdir *keep)
{
	struct journal *j = NULL;
	struct tdir d;
	int r;

	stage(&d, data, len);
	r = jopen(d.state, m, 1ull << 40, &j, e);
	journal_free(j);
	if (keep) {
		*keep = d;
	} else {
		tdir_free(&d);
	}
	return r;
}

static void
expect_prefix(const struct model *m, const struct built *b, size_t n)
{
	assert_int_equal(m->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(m->v[i].seq, i + 1);
		assert_string_equal(m->v[i].payload, b->payloads[i]);
	}
}

/* A2: every prefix length. */
static void
test_every_prefix(void **state)
{
	struct model m = { 0 };
	struct built b = { 0 };
	struct errbuf e;

	(void) state;
	build_journal(12, 40, &b);
	t_reset();
	T.nosync = true;
	T.noalloc = true;
	for (size_t len = 0; len <= b.len; len++) {
		struct tdir d;
		size_t whole = 0;
		char path[512], q[512];
		size_t slen = 0;
		uint8_t *seg;

		while (whole < b.n && b.ends[whole] <= len) {
			whole++;
		}
		assert_int_equal(replay_bytes(b.seg, len, &m, &e, &d), 0);
		expect_prefix(&m, &b, whole);
		seg_path(path, sizeof(path), d.state, 1);
		snprintf(q, sizeof(q), "%s/quarantine", d.state);
		if (len < JOURNAL_HEADER_SIZE) {
			/* An unfinished header: the segment is gone. */
			assert_false(file_exists(path));
		} else {
			/* Cut back to the last whole record; the rest kept
			 * in quarantine/. */
			size_t end = whole ? b.ends[whole - 1] :
					     JOURNAL_HEADER_SIZE;

			seg = file_read(path, &slen);
			assert_int_equal(slen, end);
			free(seg);
			assert_int_equal(dir_count(q), len > end ? 1 : 0);
		}
		/* A second start sees a clean journal. */
		{
			struct journal *j = NULL;

			assert_int_equal(jopen(d.state, &m, 1ull << 40, &j, &e),
			    0);
			expect_prefix(&m, &b, whole);
			journal_free(j);
		}
		tdir_free(&d);
	}
	model_free(&m);
	built_free(&b);
}

/* What replay must do when byte `at` of the segment is damaged. */
static void
check_flip(const struct built *b, size_t at, int r, const struct model *m,
    const struct errbuf *e)
{
	size_t rec = 0;

	while (rec < b->n && b->ends[rec] <= at) {
		rec++;
	}
	if (at < JOURNAL_HEADER_SIZE || rec + 1 < b->n) {
		/* The header, or a record with good records after it. */
		if (r != -EBADMSG) {
			fail_msg("flip at byte %zu (record %zu of %zu): got %d, "
				 "want -EBADMSG",
			    at, rec, b->n, r);
		}
		assert_int_equal(e->code, ERR_JOURNAL_CORRUPT);
		assert_non_null(strstr(e->msg, "0000000000000001.log"));
		assert_non_null(strstr(e->msg, "expected"));
		assert_non_null(strstr(e->msg, "found"));
		assert_non_null(strstr(e->msg, "offset"));
		return;
	}
	/* The last record: a torn tail, cut off. Never a damaged record. */
	if (r != 0) {
		fail_msg("flip at byte %zu (last record): %d %s", at, r, e->msg);
	}
	expect_prefix(m, b, rec);
}

/* True when all len bytes at p are zero. */
static bool
all_zero_bytes(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i]) {
			return false;
		}
	}
	return true;
}

/* ---- A3: bit flips. ----
 * Every flip is first judged in memory: the segment bytes with one bit
 * flipped are walked with the pure record decoder (journal_record_decode,
 * the function replay itself uses), which takes microseconds, so every
 * bit of a 4 KiB journal and 100k random bits of a 1 MiB journal fit in
 * seconds. A smaller sample of flips also goes through a full start on
 * real files, which shows that replay turns what the decoder sees into
 * the right outcome (refuse, or cut a torn tail). CWT_BITFLIPS sets the
 * number of random flips of the 1 MiB journal (check-crash raises it). */

struct flip_stats {
	size_t refused;  /* damaged record with a valid one after it */
	size_t torn;     /* damage in the last record: a torn tail */
	size_t header;   /* header flips, left to the full start */
};

static uint64_t
seg_salt(const uint8_t *seg)
{
	uint64_t salt = 0;

	/* doc/journal-format.md 2: little-endian, header offset 16. */
	for (int i = 7; i >= 0; i--) {
		salt = salt << 8 | seg[16 + i];
	}
	return salt;
}

/* Index of the record holding byte at (b->n for none). */
static size_t
flip_record(const struct built *b, size_t at)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->ends[mid] <= at) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* Decodes records from record `from` on in buf (b's segment with damage)
 * and returns how many records, counted from the first, decode as valid
 * with the expected seq and exactly b's payload bytes before the first
 * record that does not. Fails the test if that record decodes as OK
 * with anything but b's bytes (a damaged record returned). */
static size_t
mem_replay(const struct built *b, uint64_t salt, const uint8_t *buf,
    size_t from, enum journal_decode_result *ret_stop)
{
	size_t off = from ? b->ends[from - 1] : JOURNAL_HEADER_SIZE;
	size_t i = from;

	*ret_stop = JOURNAL_DECODE_END;
	while (off < b->len) {
		struct journal_record_view v;
		enum journal_decode_result d;

		d = journal_record_decode(salt, buf + off, b->len - off,
		    JOURNAL_RECORD_MAX, &v);
		if (d != JOURNAL_DECODE_OK) {
			*ret_stop = d;
			return i;
		}
		if (i >= b->n || v.seq != i + 1 || v.type != JOURNAL_REC_TEST ||
		    v.len != strlen(b->payloads[i]) ||
		    memcmp(v.payload, b->payloads[i], v.len) != 0) {
			fail_msg("a damaged record decoded as valid at offset "
				 "%zu (record %zu, seq %" PRIu64 ")",
			    off, i, v.seq);
		}
		off += v.size;
		i++;
	}
	return i;
}

/* Judges the flip of bit `bit` of b's segment in memory (buf is a
 * scratch copy of b->seg, restored on return). from_start: walk from the
 * first record (small journals) rather than from the damaged one; the
 * records before it are byte-for-byte b's either way. */
static void
flip_decode_check(const struct built *b, uint64_t salt, uint8_t *buf,
    size_t bit, bool from_start, struct flip_stats *st)
{
	size_t at = bit / 8, rec = flip_record(b, at), good;
	enum journal_decode_result stop;

	if (at < JOURNAL_HEADER_SIZE) {
		st->header++; /* the salt itself may be hit: full start */
		return;
	}
	assert_true(rec < b->n);
	buf[at] ^= (uint8_t) (1u << (bit % 8));
	good = mem_replay(b, salt, buf, from_start ? 0 : rec, &stop);
	if (good != rec || stop != JOURNAL_DECODE_INVALID) {
		fail_msg("flip of bit %zu (byte %zu, record %zu): %zu records "
			 "decoded, stop %d; want %zu and INVALID",
		    bit, at, rec, good, (int) stop, rec);
	}
	if (rec + 1 < b->n) {
		struct journal_record_view v;

		/* The next record is intact: replay finds it, so the
		 * damage is in the middle and the file is refused. */
		assert_int_equal(journal_record_decode(salt, buf + b->ends[rec],
				     b->len - b->ends[rec], JOURNAL_RECORD_MAX,
				     &v),
		    JOURNAL_DECODE_OK);
		assert_int_equal(v.seq, rec + 2);
		st->refused++;
	} else {
		/* Non-zero bytes after the last good record, none valid:
		 * a torn tail; replay keeps the rec records before it. */
		assert_false(all_zero_bytes(buf + b->ends[rec - 1],
		    b->len - b->ends[rec - 1]));
		st->torn++;
	}
	buf[at] ^= (uint8_t) (1u << (bit % 8));
}

/* The same flip through a full start on real files (replay_restage). */
static void
flip_full_check(const struct built *b, uint8_t *buf, size_t bit,
    struct tdir *d, struct model *m)
{
	struct errbuf e;
	int r;

	buf[bit / 8] ^= (uint8_t) (1u << (bit % 8));
	r = replay_restage(d, buf, b->len, m, &e);
	check_flip(b, bit / 8, r, m, &e);
	buf[bit / 8] ^= (uint8_t) (1u << (bit % 8));
}

static size_t
env_count(const char *name, size_t dflt)
{
	const char *env = getenv(name);
	size_t v = 0;
	int used = 0;

	if (env && sscanf(env, "%zu%n", &v, &used) == 1 &&
	    (size_t) used == strlen(env) && v > 0) {
		return v;
	}
	return dflt;
}

/* A3: every bit of a 4 KiB journal in memory; every header bit, and
 * every 8th bit elsewhere, also through a full start. */
static void
test_bitflip_small(void **state)
{
	struct model m = { 0 };
	struct built b = { 0 };
	struct flip_stats st = { 0 };
	struct tdir d;
	uint64_t salt;
	uint8_t *copy;
	size_t full = 0;

	(void) state;
	build_journal(40, 64, &b);
	assert_true(b.len >= 4096 && b.len < 4600);
	salt = seg_salt(b.seg);
	copy = malloc(b.len);
	assert_non_null(copy);
	memcpy(copy, b.seg, b.len);
	for (size_t bit = 0; bit < b.len * 8; bit++) {
		flip_decode_check(&b, salt, copy, bit, true, &st);
	}
	assert_memory_equal(copy, b.seg, b.len);
	assert_int_equal(st.header, JOURNAL_HEADER_SIZE * 8);
	assert_int_equal(st.torn, (b.len - b.ends[b.n - 2]) * 8);
	assert_int_equal(st.refused + st.torn + st.header, b.len * 8);
	t_reset();
	T.nosync = true;
	T.noalloc = true;
	stage(&d, b.seg, b.len);
	for (size_t bit = 0; bit < b.len * 8; bit++) {
		/* 8 coprime to 8: every bit position within a byte. */
		if (bit < JOURNAL_HEADER_SIZE * 8 || bit % 9 == 0) {
			flip_full_check(&b, copy, bit, &d, &m);
			full++;
		}
	}
	printf("# A3 small: %zu bytes, %zu flips in memory (%zu refused, "
	       "%zu torn tail), %zu full starts\n",
	    b.len, b.len * 8, st.refused, st.torn, full);
	tdir_free(&d);
	free(copy);
	model_free(&m);
	built_free(&b);
}

/* A3: random bits of a 1 MiB journal: CWT_BITFLIPS (100k) in memory, a
 * sample through full starts. */
static void
test_bitflip_large(void **state)
{
	struct model m = { 0 };
	struct built b = { 0 };
	struct flip_stats st = { 0 };
	struct tdir d;
	uint64_t salt;
	uint8_t *copy;
	size_t flips = env_count("CWT_BITFLIPS", 100000), nfull;

	(void) state;
	build_journal(1200, 860, &b);
	assert_true(b.len > 1000000);
	salt = seg_salt(b.seg);
	copy = malloc(b.len);
	assert_non_null(copy);
	memcpy(copy, b.seg, b.len);
	seed_init("A3 large");
	for (size_t i = 0; i < flips; i++) {
		size_t bit = rnd_below(b.len * 8);

		/* Favour the tail now and then: that path differs. */
		if (i % 10 == 0) {
			bit = (b.len - 1 - rnd_below(400)) * 8 + rnd_below(8);
		}
		flip_decode_check(&b, salt, copy, bit, false, &st);
	}
	assert_memory_equal(copy, b.seg, b.len);
	assert_true(st.refused > 0 && st.torn > 0);
	t_reset();
	T.nosync = true;
	T.noalloc = true;
	stage(&d, b.seg, b.len);
	nfull = flips / 10000 < 30 ? 30 : flips / 10000;
	for (size_t i = 0; i < nfull; i++) {
		size_t bit = rnd_below(b.len * 8);

		if (i % 5 == 0) {
			bit = (b.len - 1 - rnd_below(400)) * 8 + rnd_below(8);
		} else if (i % 5 == 1) {
			bit = rnd_below(JOURNAL_HEADER_SIZE * 8);
		}
		flip_full_check(&b, copy, bit, &d, &m);
	}
	printf("# A3 large: %zu bytes, %zu flips in memory (%zu refused, "
	       "%zu torn tail, %zu header), %zu full starts\n",
	    b.len, flips, st.refused, st.torn, st.header, nfull);
	tdir_free(&d);
	free(copy);
	model_free(&m);
	built_free(&b);
}

/* Replay reads a segment 1 MiB at a time while it applies records
 * (journal.c, struct segread): a 3 MiB segment, whole and with bits
 * flipped in the records that straddle or follow the 1 MiB and 2 MiB
 * read boundaries, in the middle of later chunks and in the tail, gives
 * the same verdicts as for a file read at once (check_flip: the exact
 * prefix of records, a refusal naming the damage, or a torn tail). */
static void
test_replay_across_chunks(void **state)
{
	static const size_t marks[] = { 1048576, 2097152 };
	struct model m = { 0 };
	struct built b = { 0 };
	struct errbuf e;
	struct tdir d;
	uint8_t *copy;
	size_t nfull = 0;

	(void) state;
	build_journal(3300, 940, &b);
	assert_true(b.len > 3 * 1048576);
	t_reset();
	T.nosync = true;
	stage(&d, b.seg, b.len);
	assert_int_equal(replay_restage(&d, b.seg, b.len, &m, &e), 0);
	expect_prefix(&m, &b, b.n);
	copy = malloc(b.len);
	assert_non_null(copy);
	memcpy(copy, b.seg, b.len);
	seed_init("replay across chunks");
	for (size_t k = 0; k < ARRAY_SIZE(marks); k++) {
		for (int i = 0; i < 8; i++) {
			/* Within two records either side of the boundary. */
			size_t at = marks[k] - 2000 + rnd_below(4000);

			flip_full_check(&b, copy, at * 8 + rnd_below(8), &d, &m);
			nfull++;
		}
	}
	for (int i = 0; i < 8; i++) {
		size_t at = i % 2 ? b.len - 1 - rnd_below(400) :
				    1048576 + rnd_below(b.len - 1048576);

		flip_full_check(&b, copy, at * 8 + rnd_below(8), &d, &m);
		nfull++;
	}
	assert_memory_equal(copy, b.seg, b.len);
	printf("# replay across chunks: %zu bytes, %zu full starts\n", b.len,
	    nfull);
	tdir_free(&d);
	free(copy);
	model_free(&m);
	built_free(&b);
}

/* A4: zeros or garbage after the last record. */
static void
test_zero_garbage_tail(void **state)
{
	static const size_t sizes[] = { 1, 7, 15, 16, 17, 511, 4096, 65536 };
	struct model m = { 0 };
	struct built b = { 0 };
	struct errbuf e;

	(void) state;
	seed_init("A4");
	build_journal(10, 30, &b);
	t_reset();
	T.nosync = true;
	for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (int garbage = 0; garbage < 2; garbage++) {
			uint8_t *copy = calloc(1, b.len + sizes[s]);
			char q[512];
			struct tdir d;

			memcpy(copy, b.seg, b.len);
			for (size_t k = 0; garbage && k < sizes[s]; k++) {
				copy[b.len + k] = (uint8_t) (1 + rnd_below(255));
			}
			assert_int_equal(replay_bytes(copy, b.len + sizes[s],
					     &m, &e, &d),
			    0);
			expect_prefix(&m, &b, b.n); /* no phantom records */
			snprintf(q, sizeof(q), "%s/quarantine", d.state);
			assert_int_equal(dir_count(q), garbage ? 1 : 0);
			tdir_free(&d);
			free(copy);
		}
	}
	/* A preallocated segment that never got its header: end of log. */
	{
		uint8_t *zeros = calloc(1, JOURNAL_SEGMENT_PREALLOC);

		assert_int_equal(replay_bytes(zeros, JOURNAL_SEGMENT_PREALLOC,
				     &m, &e, NULL),
		    0);
		assert_int_equal(m.n, 0);
		free(zeros);
	}
	model_free(&m);
	built_free(&b);
}

/* A5: records of an old segment copied into a new segment's space. */
static void
test_stale_bytes(void **state)
{
	struct model m = { 0 };
	struct journal *j = NULL;
	struct built b = { 0 };
	struct errbuf e;
	struct tdir d;
	char p1[512], p2[512];
	uint8_t *s2, *forged;
	size_t l2;

	(void) state;
	build_journal(10, 30, &b);
	t_reset();
	T.nosync = true;
	stage(&d, b.seg, b.len);
	/* Start once: segment 2 is created, empty (records 11.. expected). */
	assert_int_equal(jopen(d.state, &m, 1ull << 40, &j, &e), 0);
	journal_free(j);
	seg_path(p1, sizeof(p1), d.state, 1);
	seg_path(p2, sizeof(p2), d.state, 2);
	s2 = file_read(p2, &l2);
	assert_int_equal(l2, JOURNAL_HEADER_SIZE);
	/* Stale bytes: segment 1's records behind segment 2's header. */
	forged = malloc(JOURNAL_HEADER_SIZE + b.len);
	memcpy(forged, s2, JOURNAL_HEADER_SIZE);
	memcpy(forged + JOURNAL_HEADER_SIZE, b.seg + JOURNAL_HEADER_SIZE,
	    b.len - JOURNAL_HEADER_SIZE);
	file_write(p2, forged, b.len);
	assert_int_equal(jopen(d.state, &m, 1ull << 40, &j, &e), 0);
	expect_prefix(&m, &b, 10); /* only the real ten */
	journal_free(j);
	/* Worse: records with the right seqs (11, 12, ...) but written with
	 * segment 1's salt, as a copy of an old file would carry. */
	{
		uint64_t salt1 = 0;
		size_t off = JOURNAL_HEADER_SIZE;

		for (int k = 0; k < 8; k++) {
			salt1 |= (uint64_t) b.seg[16 + k] << (8 * k);
		}
		for (int k = 0; k < 5; k++) {
			ssize_t n = journal_record_encode(salt1,
			    JOURNAL_REC_TEST, 11 + (uint64_t) k, "{\"x\":1}", 7,
			    JOURNAL_RECORD_MAX, forged + off);

			off += (size_t) n;
		}
		/* Into the newest segment (3), behind its own header. */
		seg_path(p2, sizeof(p2), d.state, 3);
		free(s2);
		s2 = file_read(p2, &l2);
		assert_int_equal(l2, JOURNAL_HEADER_SIZE);
		memcpy(forged, s2, JOURNAL_HEADER_SIZE);
		file_write(p2, forged, off);
		assert_int_equal(jopen(d.state, &m, 1ull << 40, &j, &e), 0);
		expect_prefix(&m, &b, 10);
		assert_int_equal(journal_last_seq(j), 10);
		journal_free(j);
	}
	free(forged);
	free(s2);
	(void) p1;
	model_free(&m);
	built_free(&b);
	tdir_free(&d);
}

/* A well-formed record of an unknown type: refuse, never skip. */
static void
test_unknown_type(void **state)
{
	struct model m = { 0 };
	struct built b = { 0 };
	struct errbuf e;
	struct tdir d;
	uint64_t salt = 0;
	uint8_t *copy;
	ssize_t n;
	FILE *out;
	char *text = NULL;
	size_t tlen = 0;

	(void) state;
	build_journal(3, 20, &b);
	for (int k = 0; k < 8; k++) {
		salt |= (uint64_t) b.seg[16 + k] << (8 * k);
	}
	copy = malloc(b.len + 64);
	memcpy(copy, b.seg, b.len);
	n = journal_record_encode(salt, 200, 4, "{\"new\":1}", 9,
	    JOURNAL_RECORD_MAX, copy + b.len);
	t_reset();
	T.nosync = true;
	assert_int_equal(replay_bytes(copy, b.len + (size_t) n, &m, &e, &d),
	    -EBADMSG);
	assert_int_equal(e.code, ERR_JOURNAL_CORRUPT);
	assert_non_null(strstr(e.msg, "unknown type 200"));
	assert_non_null(strstr(e.msg, "newer cwtimed"));
	/* --check-journal --repair refuses to cut it off too. */
	out = open_memstream(&text, &tlen);
	assert_int_equal(journal_check(d.state, true, out, &e), -EBADMSG);
	fclose(out);
	assert_non_null(strstr(text, "newer cwtimed"));
	free(text);
	tdir_free(&d);
	free(copy);
	model_free(&m);
	built_free(&b);
}

/* Mid-file damage: the message, then check and repair. */
static void
test_corrupt_and_repair(void **state)
{
	struct model m = { 0 };
	struct journal *j = NULL;
	struct built b = { 0 };
	struct errbuf e;
	struct tdir d;
	uint8_t *copy;
	FILE *out;
	char *text = NULL, q[512];
	size_t tlen = 0;

	(void) state;
	build_journal(10, 30, &b);
	copy = malloc(b.len);
	memcpy(copy, b.seg, b.len);
	copy[b.ends[3] + 20] ^= 0x40; /* inside record 5 (seq 5) */
	t_reset();
	T.nosync = true;
	assert_int_equal(replay_bytes(copy, b.len, &m, &e, &d), -EBADMSG);
	assert_int_equal(e.code, ERR_JOURNAL_CORRUPT);
	{
		char want[128];

		snprintf(want, sizeof(want), "offset %zu: expected record seq 5",
		    b.ends[3]);
		assert_non_null(strstr(e.msg, want));
		assert_non_null(strstr(e.msg, "found"));
		assert_non_null(strstr(e.msg, "valid record seq 6"));
	}
	/* Check reports the same and changes nothing. */
	out = open_memstream(&text, &tlen);
	assert_int_equal(journal_check(d.state, false, out, &e), -EBADMSG);
	fclose(out);
	assert_non_null(strstr(text, "expected record seq 5"));
	free(text);
	assert_int_equal(jopen(d.state, &m, 1ull << 40, &j, &e), -EBADMSG);
	/* Repair keeps records 1..4, quarantines the original. */
	out = open_memstream(&text, &tlen);
	assert_int_equal(journal_check(d.state, true, out, &e), 0);
	fclose(out);
	assert_non_null(strstr(text, "journal sound"));
	free(text);
	snprintf(q, sizeof(q), "%s/quarantine", d.state);
	assert_int_equal(dir_count(q), 1);
	assert_int_equal(jopen(d.state, &m, 1ull << 40, &j, &e), 0);
	expect_prefix(&m, &b, 4);
	assert_int_equal(journal_last_seq(j), 4);
	journal_free(j);
	tdir_free(&d);
	free(copy);
	model_free(&m);
	built_free(&b);
}

/* A second daemon, syncfs failure (D5), disk-full refusal (2.9). */
static void
test_lock_syncfs_diskfull(void **state)
{
	struct model m = { 0 }, m2 = { 0 };
	struct journal *j = NULL, *j2 = NULL;
	struct errbuf e;
	struct tdir d;
	char want[64];
	json_object *o;

	(void) state;
	t_reset();
	T.nosync = true;
	tdir_new(&d);
	assert_int_equal(jopen(d.state, &m, 0, &j, &e), 0);
	assert_int_equal(jopen(d.state, &m2, 0, &j2, &e), -EWOULDBLOCK);
	snprintf(want, sizeof(want), "cwtimed is already running (pid %d)",
	    (int) getpid());
	assert_string_equal(e.msg, want);
	/* 2.9: below min_free a reserve_space append is refused. */
	T.bavail = 1024 * 1024;
	o = json_object_new_object();
	assert_int_equal(journal_append(j, JOURNAL_REC_TIMER_STARTED, o, true,
			     NULL, NULL, &e),
	    -ENOSPC);
	assert_int_equal(e.code, ERR_DISK_FULL);
	/* A stop still goes through. */
	assert_int_equal(journal_append(j, JOURNAL_REC_TIMER_STOPPED, o, false,
			     NULL, NULL, &e),
	    0);
	T.bavail = 3 * 1024 * 1024;
	assert_int_equal(journal_append(j, JOURNAL_REC_TIMER_STARTED, o, true,
			     NULL, NULL, &e),
	    0);
	assert_int_equal(journal_commit(j), 0);
	json_object_put(o);
	journal_free(j);
	/* D5: syncfs fails at start: refuse with -EIO. */
	j = NULL;
	T.fail_op = OP_SYNCFS;
	T.fail_at = 1;
	T.fail_err = EIO;
	memset(T.counts, 0, sizeof(T.counts));
	assert_int_equal(jopen(d.state, &m, 0, &j, &e), -EIO);
	assert_int_equal(e.code, ERR_STORAGE_FAILED);
	assert_null(j);
	T.fail_op = -1;
	assert_int_equal(jopen(d.state, &m, 0, &j, &e), 0);
	assert_int_equal(m.n, 2);
	journal_free(j);
	model_free(&m);
	model_free(&m2);
	tdir_free(&d);
}

/* ---------------------------------------------------------------- */
/* D1/D2: fail the Nth call of each operation.                       */

/* A fixed workload: open, 8 batches, a compaction, 4 batches, close.
 * Returns the number of ids used. */
static unsigned
workload(const char *state, struct model *m, bool *ret_failed_state,
    int *ret_open)
{
	struct journal *j = NULL;
	struct errbuf e;
	unsigned id = 0;
	int r;

	*ret_failed_state = false;
	r = jopen(state, m, 1ull << 40, &j, &e);
	*ret_open = r;
	if (r < 0) {
		return 0;
	}
	for (int b = 0; b < 12; b++) {
		for (int k = 0; k < 3; k++) {
			if (append_id(j, id, &e) == 0) {
				id++;
			} else {
				acks[id].called = false;
			}
		}
		r = journal_commit(j);
		if (journal_failed(j)) {
			*ret_failed_state = true;
			/* After a failed sync: refuse everything. */
			assert_int_equal(append_id(j, id, &e), -EROFS);
			assert_int_equal(e.code, ERR_STORAGE_FAILED);
			break;
		}
		if (b == 7) {
			(void) journal_compact(j, &e);
			if (journal_failed(j)) {
				*ret_failed_state = true;
				break;
			}
		}
	}
	journal_free(j);
	return id;
}

static void
test_faults(void **state)
{
	static const enum op ops[] = { OP_PWRITEV, OP_FDATASYNC, OP_FSYNC,
		OP_FTRUNCATE, OP_FALLOCATE, OP_OPENAT, OP_RENAMEAT,
		OP_UNLINKAT, OP_GETRANDOM, OP_CLOSE, OP_PREAD, OP_LISTDIR,
		OP_MKDIRAT, OP_FSTAT };
	static const int errs[] = { EIO, ENOSPC };
	struct model m = { 0 };
	unsigned runs = 0, hits = 0;

	(void) state;
	for (size_t oi = 0; oi < ARRAY_SIZE(ops); oi++) {
		for (size_t ei = 0; ei < ARRAY_SIZE(errs); ei++) {
			for (unsigned n = 1; n <= 40; n++) {
				for (int persist = 0; persist < 2; persist++) {
					struct journal *j = NULL;
					struct errbuf e;
					struct tdir d;
					bool failed;
					unsigned nids;
					int ro;

					t_reset();
					T.nosync = true;
					T.fail_op = (int) ops[oi];
					T.fail_at = n;
					T.fail_err = errs[ei];
					T.fail_persist = persist;
					tdir_new(&d);
					nids = workload(d.state, &m, &failed,
					    &ro);
					runs++;
					if (T.injected == 0) {
						tdir_free(&d);
						break; /* past the last call */
					}
					hits++;
					/* D2: a descriptor whose sync failed is
					 * never synced again. */
					if (T.sync_after_fail) {
						fail_msg("%s #%u (%s): synced a "
							 "failed fd again",
						    op_names[ops[oi]], n,
						    strerror(errs[ei]));
					}
					if (failed) {
						/* Only a sync failure or a
						 * failed cut-back fails it. */
						assert_true(ops[oi] ==
							OP_FDATASYNC ||
						    ops[oi] == OP_FSYNC ||
						    ops[oi] == OP_FTRUNCATE ||
						    ops[oi] == OP_CLOSE);
					}
					/* A failed batch was never acked
					 * with status 0 and its error says
					 * why. */
					for (unsigned id = 0; id < nids;
					    id++) {
						if (acks[id].called &&
						    acks[id].status != 0) {
							assert_true(
							    acks[id].code ==
								ERR_DISK_FULL ||
							    acks[id].code ==
								ERR_DISK_ERROR ||
							    acks[id].code ==
								ERR_STORAGE_FAILED);
						}
					}
					/* After the fault ends, the journal
					 * opens and holds every ack. */
					T.fail_op = -1;
					if (jopen(d.state, &m, 1ull << 40, &j,
						&e) != 0) {
						fail_msg("%s #%u %s%s: reopen: "
							 "%s",
						    op_names[ops[oi]], n,
						    strerror(errs[ei]),
						    persist ? "+" : "",
						    e.msg);
					}
					check_invariants(&m, nids);
					journal_free(j);
					tdir_free(&d);
				}
			}
		}
	}
	printf("# faults: %u runs, %u with an injected failure\n", runs,
	    hits);
	assert_true(hits > 200);
	model_free(&m);
}

/* D2 precisely: the first fdatasync of a commit fails. */
static void
test_fdatasync_failure(void **state)
{
	struct model m = { 0 };
	struct journal *j = NULL;
	struct errbuf e;
	struct tdir d;

	(void) state;
	t_reset();
	T.nosync = true;
	tdir_new(&d);
	assert_int_equal(jopen(d.state, &m, 0, &j, &e), 0);
	assert_int_equal(append_id(j, 0, &e), 0);
	assert_int_equal(journal_commit(j), 0);
	assert_true(acks[0].called && acks[0].status == 0);
	T.fail_op = OP_FDATASYNC;
	T.fail_at = T.counts[OP_FDATASYNC] + 1;
	T.fail_err = EIO;
	assert_int_equal(append_id(j, 1, &e), 0);
	assert_int_equal(append_id(j, 2, &e), 0);
	assert_int_equal(journal_commit(j), -EIO);
	assert_true(journal_failed(j));
	for (int i = 1; i <= 2; i++) {
		assert_true(acks[i].called);
		assert_int_equal(acks[i].status, -EIO);
		assert_int_equal(acks[i].code, ERR_STORAGE_FAILED);
	}
	assert_int_equal(m.n, 1); /* memory unchanged */
	assert_int_equal(journal_last_seq(j), 1);
	assert_int_equal(append_id(j, 3, &e), -EROFS);
	assert_int_equal(journal_compact(j, &e), -EROFS);
	T.fail_op = -1;
	journal_free(j); /* must not sync the failed fd */
	assert_int_equal(T.sync_after_fail, 0);
	assert_int_equal(jopen(d.state, &m, 0, &j, &e), 0);
	assert_true(m.n >= 1); /* 1..3: the outcome of 2 and 3 is unknown */
	check_invariants(&m, 3);
	journal_free(j);
	model_free(&m);
	tdir_free(&d);
}

/* A short write (ENOSPC) is cut back and the journal goes on. */
static void
test_write_error_recovers(void **state)
{
	struct model m = { 0 };
	struct journal *j = NULL;
	struct errbuf e;
	struct tdir d;
	char path[512];
	uint8_t *seg;
	size_t len;

	(void) state;
	t_reset();
	T.noalloc = false;
	tdir_new(&d);
	assert_int_equal(jopen(d.state, &m, 0, &j, &e), 0);
	assert_int_equal(append_id(j, 0, &e), 0);
	assert_int_equal(journal_commit(j), 0);
	T.fail_op = OP_PWRITEV;
	T.fail_at = T.counts[OP_PWRITEV] + 1;
	T.fail_err = ENOSPC;
	assert_int_equal(append_id(j, 1, &e), 0);
	assert_int_equal(journal_commit(j), -ENOSPC);
	assert_int_equal(acks[1].code, ERR_DISK_FULL);
	assert_false(journal_failed(j));
	assert_int_equal(m.n, 1);
	assert_int_equal(append_id(j, 2, &e), 0);
	assert_int_equal(journal_commit(j), 0);
	assert_int_equal(acks[2].status, 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.v[1].seq, 2); /* the failed seq is reused */
	journal_free(j);
	seg_path(path, sizeof(path), d.state, 1);
	seg = file_read(path, &len);
	assert_int_equal(len, JOURNAL_HEADER_SIZE + 2 * JOURNAL_RECORD_OVERHEAD +
		strlen("{\"id\":0,\"pad\":\"\"}") +
		strlen("{\"id\":2,\"pad\":\"\"}") + payload_pad(2));
	free(seg);
	assert_int_equal(jopen(d.state, &m, 0, &j, &e), 0);
	check_invariants(&m, 3);
	assert_int_equal(m.n, 2);
	journal_free(j);
	model_free(&m);
	tdir_free(&d);
}

/* Compaction: the state after reopening equals the state before. */
static void
test_compaction(void **state)
{
	struct model m = { 0 };
	struct journal *j = NULL;
	struct errbuf e;
	struct tdir d;
	char path[512], *before;
	json_object *snap;
	unsigned id = 0;

	(void) state;
	t_reset();
	T.nosync = true;
	tdir_new(&d);
	/* A small threshold: commits compact on their own. */
	assert_int_equal(jopen(d.state, &m, 4096, &j, &e), 0);
	for (int b = 0; b < 60; b++) {
		for (int k = 0; k < 4; k++) {
			assert_int_equal(append_id(j, id++, &e), 0);
		}
		assert_int_equal(journal_commit(j), 0);
	}
	snprintf(path, sizeof(path), "%s/checkpoint", d.state);
	assert_true(file_exists(path));
	assert_int_equal(journal_compact(j, &e), 0);
	snap = model_snapshot(&m);
	before = strdup(json_object_to_json_string_ext(snap,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(snap);
	journal_free(j);
	/* Only the newest segment is left next to the checkpoint. */
	snprintf(path, sizeof(path), "%s/journal", d.state);
	assert_int_equal(dir_count(path), 1);
	assert_int_equal(jopen(d.state, &m, 4096, &j, &e), 0);
	assert_int_equal(m.checkpoints, 1);
	assert_int_equal(m.n, id);
	check_invariants(&m, id);
	snap = model_snapshot(&m);
	assert_string_equal(before, json_object_to_json_string_ext(snap,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(snap);
	journal_free(j);
	free(before);
	model_free(&m);
	tdir_free(&d);
}

/* ---------------------------------------------------------------- */
/* C3: crash states through crashfs.                                 */

static unsigned crash_ids;

static void
crash_workload(const char *state, struct model *m)
{
	struct journal *j = NULL;
	struct errbuf e;
	unsigned id = 0;

	for (int run = 0; run < 2; run++) {
		struct journal_config cfg = {
			.state_dir = state,
			.ops = &crashfs_ops,
			.apply = model_apply,
			.snapshot = model_snapshot,
			.userdata = m,
			.compact_bytes = 1500,
		};

		model_clear(m);
		assert_int_equal(journal_open(&cfg, &j, &e), 0);
		for (int b = 0; b < 6; b++) {
			unsigned first = id;

			for (int k = 0; k < 1 + b % 3; k++) {
				assert_int_equal(append_id(j, id++, &e), 0);
			}
			assert_int_equal(journal_commit(j), 0);
			for (unsigned i = first; i < id; i++) {
				assert_true(acks[i].called);
				crashfs_mark_ack(i);
			}
		}
		journal_free(j);
	}
	crash_ids = id;
}

static void
test_crash_states(void **state)
{
	struct model m = { 0 };
	struct tdir live;
	const char *env = getenv("CWT_CRASH_STATES");
	unsigned want = 2000, done = 0, points;
	uint64_t seed;

	(void) state;
	if (env && sscanf(env, "%u", &want) != 1) {
		want = 2000;
	}
	seed = seed_init("C3 crash states");
	tdir_new(&live);
	assert_int_equal(crashfs_start(live.root), 0);
	crash_workload(live.state, &m);
	crashfs_stop();
	points = crashfs_points();
	printf("# C3: %u operations recorded, %u ids, %u states\n", points,
	    crash_ids, want);
	assert_true(points > 50);
	t_reset();
	T.nosync = true;
	for (unsigned s = 0; s < want; s++) {
		/* Every crash point in turn, then random ones. */
		unsigned point = s <= points ? s : (unsigned) rnd_below(points + 1);
		struct tdir d;
		struct journal *j = NULL;
		struct errbuf e;
		unsigned char acked[4096] = { 0 };
		int r;

		tdir_new(&d);
		assert_int_equal(crashfs_build(point, rnd(), d.root, acked,
				     sizeof(acked)),
		    0);
		r = jopen(d.state, &m, 1500, &j, &e);
		if (r == -ENOENT && !file_exists(d.state)) {
			/* Crashed before the state directory existed. */
			for (unsigned i = 0; i < crash_ids; i++) {
				assert_false(acked[i]);
			}
			tdir_free(&d);
			done++;
			continue;
		}
		if (r != 0) {
			fail_msg("state %u (point %u of %u, seed %" PRIu64
				 "): open failed: %s",
			    s, point, points, seed, e.msg);
		}
		for (unsigned i = 0; i < crash_ids; i++) {
			acks[i].called = acked[i];
			acks[i].status = 0;
		}
		check_invariants(&m, crash_ids);
		journal_free(j);
		/* Recovery converges: a second start agrees. */
		{
			size_t n = m.n;

			assert_int_equal(jopen(d.state, &m, 1500, &j, &e), 0);
			assert_int_equal(m.n, n);
			journal_free(j);
		}
		tdir_free(&d);
		done++;
	}
	printf("# C3: %u crash states checked\n", done);
	crashfs_free();
	model_free(&m);
	tdir_free(&live);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_roundtrip),
		cmocka_unit_test(test_journal_roundtrip),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_bitflip_small),
		cmocka_unit_test(test_bitflip_large),
		cmocka_unit_test(test_replay_across_chunks),
		cmocka_unit_test(test_zero_garbage_tail),
		cmocka_unit_test(test_stale_bytes),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_corrupt_and_repair),
		cmocka_unit_test(test_lock_syncfs_diskfull),
		cmocka_unit_test(test_faults),
		cmocka_unit_test(test_fdatasync_failure),
		cmocka_unit_test(test_write_error_recovers),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_crash_states),
	};
	int failures;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("CWT_TEST_FILTER")) {
		cmocka_set_test_filter(getenv("CWT_TEST_FILTER"));
	}
	failures = cmocka_run_group_tests(tests, NULL, NULL);
	return failures ? 1 : 0;
}
