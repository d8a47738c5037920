/*
 * The `node-relay` floor's native data path (RELAY_NATIVE=1): one call moves a whole part from a
 * socket to the output file and on to the relays, in a thread of its own, with no JavaScript per
 * read. JavaScript keeps the connections, the framing and the bookkeeping, as a d7y peer would.
 * Each transfer has a thread of its own (not one of libuv's four), so parts in flight never wait
 * for each other.
 *
 *   transfer(srcFd, fileFd, offset, length, relayFds, hash, callback(error, { received, crc32, digest }))
 *
 * `transfer` reads up to 256 KiB at a time into one buffer, hashes it (crc32 and sha256, both from node's
 * own zlib and OpenSSL), writes it at its offset and sends it to every relay before the next read.
 * The sockets are the caller's (non-blocking, as libuv left them): it must not read or write them
 * while a transfer runs. A socket that makes no progress for 30 s, a short file write or a
 * connection that closes before `length` bytes ends the transfer with an error naming it.
 * A seed holding the file sends with d7y's own addon (native/), by sendfile(2).
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <zlib.h>
#include <openssl/evp.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BYTES (256 * 1024)
#define MAX_RELAYS 256
#define STALL_MS 30000

typedef struct {
  napi_threadsafe_function done;
  int src, file, relays[MAX_RELAYS], nrelays, hash;
  int64_t offset, length, received;
  uint32_t crc;
  char digest[65];
  char error[256];
} Job;

/* Waits until `fd` is ready for `events`; 0, or -1 with the job's error set. */
static int await_fd(Job *j, int fd, short events, const char *what) {
  struct pollfd p = { fd, events, 0 };
  for (;;) {
    int r = poll(&p, 1, STALL_MS);
    if (r > 0) return 0;
    if (r == 0) {
      snprintf(j->error, sizeof j->error, "%s made no progress for %d s", what, STALL_MS / 1000);
      return -1;
    }
    if (errno != EINTR) {
      snprintf(j->error, sizeof j->error, "waiting on %s: %s", what, strerror(errno));
      return -1;
    }
  }
}

static int send_all(Job *j, int fd, const uint8_t *b, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w > 0) {
      b += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (await_fd(j, fd, POLLOUT, "a relay")) return -1;
    } else if (!(w < 0 && errno == EINTR)) {
      snprintf(j->error, sizeof j->error, "sending to a relay: %s", w < 0 ? strerror(errno) : "no bytes taken");
      return -1;
    }
  }
  return 0;
}

static void run(Job *j) {
  uint8_t *buf = malloc(READ_BYTES);
  EVP_MD_CTX *md = j->hash ? EVP_MD_CTX_new() : NULL;
  uLong crc = crc32(0L, Z_NULL, 0);
  if (!buf || (j->hash && !md)) {
    snprintf(j->error, sizeof j->error, "out of memory");
    goto done;
  }
  if (md) EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  while (j->received < j->length) {
    int64_t left = j->length - j->received;
    ssize_t n = recv(j->src, buf, left < READ_BYTES ? (size_t)left : READ_BYTES, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (await_fd(j, j->src, POLLIN, "the sender")) goto done;
        continue;
      }
      if (errno == EINTR) continue;
      snprintf(j->error, sizeof j->error, "reading from the sender: %s", strerror(errno));
      goto done;
    }
    if (n == 0) {
      snprintf(j->error, sizeof j->error, "the sender closed the connection after %lld of the %lld bytes",
               (long long)j->received, (long long)j->length);
      goto done;
    }
    if (j->hash) {
      crc = crc32(crc, buf, (uInt)n);
      EVP_DigestUpdate(md, buf, (size_t)n);
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = pwrite(j->file, buf + off, (size_t)(n - off), j->offset + j->received + off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        snprintf(j->error, sizeof j->error, "writing the file at %lld: %s", (long long)(j->offset + j->received + off),
                 w < 0 ? strerror(errno) : "nothing written");
        goto done;
      }
      off += w;
    }
    for (int r = 0; r < j->nrelays; r++)
      if (send_all(j, j->relays[r], buf, (size_t)n)) goto done;
    j->received += n;
  }
  if (md) {
    unsigned char out[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(md, out, &len);
    for (unsigned int i = 0; i < len && i < 32; i++) snprintf(j->digest + 2 * i, 3, "%02x", out[i]);
  }
done:
  j->crc = (uint32_t)crc;
  if (md) EVP_MD_CTX_free(md);
  free(buf);
}

/* On the JavaScript thread, once the transfer's thread is done. */
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  Job *j = data;
  if (env) {
    napi_value undef, args[2], v;
    napi_get_undefined(env, &undef);
    if (j->error[0]) {
      napi_value msg;
      napi_create_string_utf8(env, j->error, NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &args[0]);
    } else {
      napi_get_null(env, &args[0]);
    }
    napi_create_object(env, &args[1]);
    napi_create_int64(env, j->received, &v);
    napi_set_named_property(env, args[1], "received", v);
    napi_create_uint32(env, j->crc, &v);
    napi_set_named_property(env, args[1], "crc32", v);
    napi_create_string_utf8(env, j->digest, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, args[1], "digest", v);
    napi_call_function(env, undef, cb, 2, args, NULL);
  }
  free(j);
}

static void *worker(void *data) {
  Job *j = data;
  napi_threadsafe_function done = j->done;
  run(j);
  napi_call_threadsafe_function(done, j, napi_tsfn_blocking);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

#define CHECK(call, what)                                  \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      napi_throw_type_error(env, NULL, what);              \
      free(j);                                             \
      return NULL;                                         \
    }                                                      \
  } while (0)

/* Starts `j` on a thread of its own, `callback` to be called when it ends. */
static napi_value start(napi_env env, Job *j, napi_value callback) {
  napi_value name;
  napi_valuetype t;
  napi_typeof(env, callback, &t);
  if (t != napi_function) CHECK(napi_invalid_arg, "callback must be a function");
  napi_create_string_utf8(env, "relay-native transfer", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_threadsafe_function(env, callback, NULL, name, 0, 1, NULL, NULL, NULL, call_js, &j->done), "callback");
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int e = pthread_create(&thread, &attr, worker, j);
  pthread_attr_destroy(&attr);
  if (e) {
    napi_release_threadsafe_function(j->done, napi_tsfn_abort);
    free(j);
    napi_throw_error(env, NULL, "could not start a transfer thread");
  }
  return NULL;
}

/* A new job from `argc` arguments, the first four (socket, file, offset, length) read into it; NULL after a throw. */
static Job *new_job(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *usage) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Job *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  int *socket = &j->src;
  if (argc != want) CHECK(napi_invalid_arg, usage);
  CHECK(napi_get_value_int32(env, argv[0], socket), "the socket's fd must be a number");
  CHECK(napi_get_value_int32(env, argv[1], &j->file), "fileFd must be a number");
  CHECK(napi_get_value_int64(env, argv[2], &j->offset), "offset must be a number");
  CHECK(napi_get_value_int64(env, argv[3], &j->length), "length must be a number");
  if (*socket < 0 || j->file < 0 || j->offset < 0 || j->length < 0) CHECK(napi_invalid_arg, "fds, offset and length must not be negative");
  return j;
}

static napi_value transfer(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  Job *j = new_job(env, info, 7, argv, "transfer(srcFd, fileFd, offset, length, relayFds, hash, callback)");
  if (!j) return NULL;
  uint32_t n = 0;
  CHECK(napi_get_array_length(env, argv[4], &n), "relayFds must be an array");
  if (n > MAX_RELAYS) CHECK(napi_invalid_arg, "more than 256 relays");
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    CHECK(napi_get_element(env, argv[4], i, &e), "relayFds must be an array");
    CHECK(napi_get_value_int32(env, e, &j->relays[i]), "relayFds must hold numbers");
    if (j->relays[i] < 0) CHECK(napi_invalid_arg, "relayFds must not be negative");
  }
  j->nrelays = (int)n;
  bool hash = false;
  CHECK(napi_get_value_bool(env, argv[5], &hash), "hash must be a boolean");
  j->hash = hash;
  return start(env, j, argv[6]);
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "transfer", NAPI_AUTO_LENGTH, transfer, NULL, &fn);
  napi_set_named_property(env, exports, "transfer", fn);
  return exports;
}
