/*
 * d7y's native data path: pieces sent from the file they are stored in by the kernel (sendfile(2)),
 * with no byte passing through JavaScript.
 *
 *   const job = sendFile(socketFd, fileFd, offset, length, timeoutMs, callback(error, sent))
 *   cancel(job)
 *
 * `sendFile` duplicates both descriptors and sends `length` bytes of the file from `offset` to the
 * socket in a thread of its own, waiting for the socket to take more as needed; the caller must not
 * write to the socket until `callback` runs. A socket that takes nothing for `timeoutMs`, a file
 * shorter than asked or a connection that closes ends the send with an error naming how far it
 * got. `cancel` (before the callback) shuts the socket down, which ends the send at once. The
 * duplicates are closed only after the callback, so a descriptor number the caller closes and the
 * system reuses is never touched.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* At most this much per sendfile(2) call, so a slow socket is polled between calls. */
#define CALL_BYTES (1 << 20)

typedef struct {
  napi_threadsafe_function done;
  /* Keeps the job's JavaScript object (which owns this memory) alive until the callback. */
  napi_ref self;
  /* Set while the thread runs: a job collected then (only as node exits) is left to the thread. */
  int running;
  int socket, file, timeout_ms;
  int64_t offset, length, sent;
  char error[256];
} Job;

static void run(Job *j) {
  off_t at = j->offset;
  while (j->sent < j->length) {
    int64_t left = j->length - j->sent;
    ssize_t n = sendfile(j->socket, j->file, &at, left < CALL_BYTES ? (size_t)left : CALL_BYTES);
    if (n > 0) {
      j->sent += n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = { j->socket, POLLOUT, 0 };
      int r = poll(&p, 1, j->timeout_ms);
      if (r == 0) {
        snprintf(j->error, sizeof j->error, "the receiver took none of the bytes for %d ms (%lld of %lld sent); upload cut",
                 j->timeout_ms, (long long)j->sent, (long long)j->length);
        return;
      }
      if (r < 0 && errno != EINTR) {
        snprintf(j->error, sizeof j->error, "waiting on the receiver: %s", strerror(errno));
        return;
      }
    } else if (!(n < 0 && errno == EINTR)) {
      snprintf(j->error, sizeof j->error, "sendfile after %lld of %lld bytes: %s", (long long)j->sent, (long long)j->length,
               n < 0 ? strerror(errno) : "the file ended early");
      return;
    }
  }
}

/* On the JavaScript thread, once the send's thread is done. */
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  Job *j = data;
  if (!env) return; /* node is exiting; the job may be gone */
  {
    napi_value undef, args[2];
    napi_get_undefined(env, &undef);
    if (j->error[0]) {
      napi_value msg;
      napi_create_string_utf8(env, j->error, NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &args[0]);
    } else {
      napi_get_null(env, &args[0]);
    }
    napi_create_int64(env, j->sent, &args[1]);
    napi_call_function(env, undef, cb, 2, args, NULL);
  }
  close(j->socket);
  close(j->file);
  j->socket = j->file = -1;
  napi_delete_reference(env, j->self);
}

static void *worker(void *data) {
  Job *j = data;
  napi_threadsafe_function done = j->done;
  run(j);
  __atomic_store_n(&j->running, 0, __ATOMIC_RELEASE);
  napi_call_threadsafe_function(done, j, napi_tsfn_blocking);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

/* The job's memory belongs to the JavaScript object returned; freed when it is collected. */
static void finalize_job(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Job *j = data;
  if (__atomic_load_n(&j->running, __ATOMIC_ACQUIRE)) return;
  if (j->socket >= 0) close(j->socket);
  if (j->file >= 0) close(j->file);
  free(j);
}

static napi_value fail(napi_env env, const char *what) {
  napi_throw_type_error(env, NULL, what);
  return NULL;
}

static napi_value send_file(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 6) return fail(env, "sendFile(socketFd, fileFd, offset, length, timeoutMs, callback)");
  int32_t socket_fd, file_fd, timeout_ms;
  int64_t offset, length;
  napi_valuetype t;
  if (napi_get_value_int32(env, argv[0], &socket_fd) != napi_ok || socket_fd < 0) return fail(env, "socketFd must be a descriptor");
  if (napi_get_value_int32(env, argv[1], &file_fd) != napi_ok || file_fd < 0) return fail(env, "fileFd must be a descriptor");
  if (napi_get_value_int64(env, argv[2], &offset) != napi_ok || offset < 0) return fail(env, "offset must be a number >= 0");
  if (napi_get_value_int64(env, argv[3], &length) != napi_ok || length < 0) return fail(env, "length must be a number >= 0");
  if (napi_get_value_int32(env, argv[4], &timeout_ms) != napi_ok || timeout_ms <= 0) return fail(env, "timeoutMs must be a number > 0");
  napi_typeof(env, argv[5], &t);
  if (t != napi_function) return fail(env, "callback must be a function");

  Job *j = calloc(1, sizeof *j);
  if (!j) return fail(env, "out of memory");
  j->offset = offset;
  j->length = length;
  j->timeout_ms = timeout_ms;
  j->socket = dup(socket_fd);
  j->file = dup(file_fd);
  if (j->socket < 0 || j->file < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "could not duplicate a descriptor: %s", strerror(errno));
    if (j->socket >= 0) close(j->socket);
    if (j->file >= 0) close(j->file);
    free(j);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_value job, name;
  napi_create_object(env, &job);
  if (napi_wrap(env, job, j, finalize_job, NULL, NULL) != napi_ok) {
    finalize_job(env, j, NULL);
    napi_throw_error(env, NULL, "could not wrap the send");
    return NULL;
  }
  napi_create_string_utf8(env, "d7y sendFile", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[5], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &j->done) != napi_ok) {
    napi_throw_error(env, NULL, "could not set the callback up");
    return NULL;
  }
  napi_create_reference(env, job, 1, &j->self);
  j->running = 1;
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int e = pthread_create(&thread, &attr, worker, j);
  pthread_attr_destroy(&attr);
  if (e) {
    j->running = 0;
    napi_delete_reference(env, j->self);
    napi_release_threadsafe_function(j->done, napi_tsfn_abort);
    napi_throw_error(env, NULL, "could not start a send thread");
    return NULL;
  }
  return job;
}

/* cancel(job): ends a send under way by shutting its socket down (the callback then reports it). */
static napi_value cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Job *j = NULL;
  if (argc != 1 || napi_unwrap(env, argv[0], (void **)&j) != napi_ok || !j) return fail(env, "cancel(job) takes what sendFile returned");
  if (j->socket >= 0) shutdown(j->socket, SHUT_RDWR);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "sendFile", NAPI_AUTO_LENGTH, send_file, NULL, &fn);
  napi_set_named_property(env, exports, "sendFile", fn);
  napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, cancel, NULL, &fn);
  napi_set_named_property(env, exports, "cancel", fn);
  return exports;
}
