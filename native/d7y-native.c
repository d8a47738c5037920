/*
 * d7y's native data path: pieces sent from the file they are stored in by the kernel (sendfile(2)),
 * with no byte passing through JavaScript, and piece bodies read off a socket in large batches.
 *
 *   const job = sendFile(socketFd, fileFd, offset, length, timeoutMs, callback(error, sent))
 *   const job = recvInto(socketFd, buffer, offset, length, timeoutMs, callback(error, received))
 *   cancel(job)
 *
 * `sendFile` sends `length` bytes of the file from `offset` to the socket; `recvInto` reads exactly
 * `length` bytes from the socket into `buffer` at `offset` (never more: what follows belongs to the
 * caller). Each runs in a thread of the addon's pool on duplicates of the descriptors, waiting on
 * the socket as needed; the caller must not write to (sendFile) or read from (recvInto) the socket until
 * `callback` runs. A socket that makes no progress for `timeoutMs`, a file shorter than asked or a
 * connection that closes ends the call with an error naming how far it got. `cancel` (before the
 * callback) shuts the socket down, which ends the call at once. The duplicates are closed only after
 * the callback, so a descriptor number the caller closes and the system reuses is never touched.
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
#include <time.h>
#include <unistd.h>

/* At most this much per sendfile(2) call, so a slow socket is polled between calls. */
#define CALL_BYTES (1 << 20)

typedef struct Job {
  struct Job *next;
  /* The environment's callback queue, and the job's own callback. */
  napi_threadsafe_function done;
  napi_ref callback;
  /* Keeps the job's JavaScript object (which owns this memory) alive until the callback. */
  napi_ref self;
  /* Set while the thread runs: a job collected then (only as node exits) is left to the thread. */
  int running;
  int socket, file, timeout_ms;
  int64_t offset, length, sent;
  /* recvInto: where the bytes go, and the reference that keeps the buffer alive meanwhile. */
  uint8_t *into;
  napi_ref buffer;
  char error[256];
} Job;

/* Waits until the socket is ready for `events`; 0, or -1 with the job's error set. */
static int await_socket(Job *j, short events, const char *stalled) {
  struct pollfd p = { j->socket, events, 0 };
  int r = poll(&p, 1, j->timeout_ms);
  if (r == 0) {
    snprintf(j->error, sizeof j->error, "%s for %d ms (%lld of %lld bytes)", stalled, j->timeout_ms, (long long)j->sent, (long long)j->length);
    return -1;
  }
  if (r < 0 && errno != EINTR) {
    snprintf(j->error, sizeof j->error, "waiting on the socket: %s", strerror(errno));
    return -1;
  }
  return 0;
}

/*
 * A body read waits for this many bytes (or the rest of the read, if less) before its thread wakes:
 * SO_RCVLOWAT, which poll(2) honours on TCP sockets. Without it the thread wakes for every few
 * segments a link delivers, a wake-up and a recv(2) per few KiB.
 */
#define RECV_LOWAT_BYTES (256 * 1024)

static void set_lowat(int socket, int bytes) {
  /* A socket that refuses (not TCP) just wakes more often. */
  (void)setsockopt(socket, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes);
}

static void run_recv(Job *j) {
  int lowat = 1;
  while (j->sent < j->length) {
    ssize_t n = recv(j->socket, j->into + j->sent, (size_t)(j->length - j->sent), 0);
    if (n > 0) {
      j->sent += n;
    } else if (n == 0) {
      snprintf(j->error, sizeof j->error, "the connection closed after %lld of %lld bytes", (long long)j->sent, (long long)j->length);
      break;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      int64_t left = j->length - j->sent;
      int want = left < RECV_LOWAT_BYTES ? (int)left : RECV_LOWAT_BYTES;
      if (want != lowat) set_lowat(j->socket, lowat = want);
      struct pollfd p = { j->socket, POLLIN, 0 };
      int r = poll(&p, 1, j->timeout_ms);
      /*
       * Fewer bytes than the mark for a whole time-out: a stall only if none came at all. Anything
       * else (bytes, a close, an error) is for the next recv, which takes or reports it.
       */
      char peek;
      if (r == 0 && lowat > 1 && (recv(j->socket, &peek, 1, MSG_DONTWAIT | MSG_PEEK) >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))) continue;
      if (r == 0) {
        snprintf(j->error, sizeof j->error, "no data for %d ms (%lld of %lld bytes)", j->timeout_ms, (long long)j->sent, (long long)j->length);
        break;
      }
      if (r < 0 && errno != EINTR) {
        snprintf(j->error, sizeof j->error, "waiting on the socket: %s", strerror(errno));
        break;
      }
    } else if (errno != EINTR) {
      snprintf(j->error, sizeof j->error, "reading after %lld of %lld bytes: %s", (long long)j->sent, (long long)j->length, strerror(errno));
      break;
    }
  }
  /* The socket goes back to the caller's event loop, which reads a byte at a time. */
  if (lowat != 1) set_lowat(j->socket, 1);
}

static void run(Job *j) {
  if (j->into) {
    run_recv(j);
    return;
  }
  off_t at = j->offset;
  while (j->sent < j->length) {
    int64_t left = j->length - j->sent;
    ssize_t n = sendfile(j->socket, j->file, &at, left < CALL_BYTES ? (size_t)left : CALL_BYTES);
    if (n > 0) {
      j->sent += n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (await_socket(j, POLLOUT, "the receiver took none of the bytes")) return;
    } else if (!(n < 0 && errno == EINTR)) {
      snprintf(j->error, sizeof j->error, "sendfile after %lld of %lld bytes: %s", (long long)j->sent, (long long)j->length,
               n < 0 ? strerror(errno) : "the file ended early");
      return;
    }
  }
}

/* One node environment: the queue its jobs' callbacks come back through, kept alive only while jobs run. */
typedef struct {
  napi_threadsafe_function done;
  int64_t pending;
} Env;

/* On the JavaScript thread, once a job's thread is done with it. */
static void call_js(napi_env env, napi_value unused, void *context, void *data) {
  (void)unused;
  Env *e = context;
  Job *j = data;
  if (!env) return; /* node is exiting; the job may be gone */
  napi_value undef, cb, args[2];
  napi_get_undefined(env, &undef);
  if (j->error[0]) {
    napi_value msg;
    napi_create_string_utf8(env, j->error, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &args[0]);
  } else {
    napi_get_null(env, &args[0]);
  }
  napi_create_int64(env, j->sent, &args[1]);
  close(j->socket);
  if (j->file >= 0) close(j->file);
  j->socket = j->file = -1;
  if (j->buffer) napi_delete_reference(env, j->buffer);
  j->buffer = NULL;
  if (--e->pending == 0) napi_unref_threadsafe_function(env, e->done);
  napi_get_reference_value(env, j->callback, &cb);
  napi_delete_reference(env, j->callback);
  napi_delete_reference(env, j->self);
  napi_call_function(env, undef, cb, 2, args, NULL);
}

/*
 * The threads jobs run on: kept across jobs (a thread started per call cost about 0.1 ms of CPU),
 * one more started whenever more jobs wait than threads are idle, since a job may wait on its socket
 * for long; a thread idle for IDLE_EXIT_S ends.
 */
#define MAX_THREADS 1024
#define IDLE_EXIT_S 30
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static Job *queue_head, *queue_tail;
static int queued, idle_threads, all_threads;

static void *pool_worker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pool_lock);
  for (;;) {
    while (!queue_head) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += IDLE_EXIT_S;
      idle_threads++;
      int r = pthread_cond_timedwait(&pool_cond, &pool_lock, &until);
      idle_threads--;
      if (r == ETIMEDOUT && !queue_head) {
        all_threads--;
        pthread_mutex_unlock(&pool_lock);
        return NULL;
      }
    }
    Job *j = queue_head;
    queue_head = j->next;
    if (!queue_head) queue_tail = NULL;
    queued--;
    pthread_mutex_unlock(&pool_lock);
    run(j);
    __atomic_store_n(&j->running, 0, __ATOMIC_RELEASE);
    napi_call_threadsafe_function(j->done, j, napi_tsfn_blocking);
    pthread_mutex_lock(&pool_lock);
  }
}

/* Queues `j` for a pool thread; 0, or -1 when no thread could be started to run it. */
static int submit(Job *j) {
  pthread_mutex_lock(&pool_lock);
  j->next = NULL;
  if (queue_tail) queue_tail->next = j;
  else queue_head = j;
  queue_tail = j;
  queued++;
  int ok = 0;
  if (queued > idle_threads && all_threads < MAX_THREADS) {
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, pool_worker, NULL) == 0) all_threads++;
    pthread_attr_destroy(&attr);
  }
  if (all_threads == 0) {
    /* Nothing will run it: take it back (it is the only job, as no thread ever started). */
    queue_head = queue_tail = NULL;
    queued = 0;
    ok = -1;
  }
  pthread_cond_signal(&pool_cond);
  pthread_mutex_unlock(&pool_lock);
  return ok;
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

/* Wraps `j` in the object returned to JavaScript and queues it; NULL after a throw. */
static napi_value start_job(napi_env env, Job *j, napi_value callback) {
  Env *e = NULL;
  napi_get_instance_data(env, (void **)&e);
  napi_value job;
  napi_create_object(env, &job);
  if (!e || napi_wrap(env, job, j, finalize_job, NULL, NULL) != napi_ok) {
    finalize_job(env, j, NULL);
    napi_throw_error(env, NULL, "could not wrap the call");
    return NULL;
  }
  j->done = e->done;
  napi_create_reference(env, callback, 1, &j->callback);
  napi_create_reference(env, job, 1, &j->self);
  j->running = 1;
  if (e->pending++ == 0) napi_ref_threadsafe_function(env, e->done);
  if (submit(j)) {
    j->running = 0;
    if (--e->pending == 0) napi_unref_threadsafe_function(env, e->done);
    napi_delete_reference(env, j->callback);
    napi_delete_reference(env, j->self);
    napi_throw_error(env, NULL, "could not start a thread");
    return NULL;
  }
  return job;
}

/* A job on a duplicate of `fd` (and of `file` unless it is -1); NULL after a throw. */
static Job *new_job(napi_env env, int fd, int file, int64_t offset, int64_t length, int timeout_ms) {
  Job *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->offset = offset;
  j->length = length;
  j->timeout_ms = timeout_ms;
  j->socket = dup(fd);
  j->file = file >= 0 ? dup(file) : -1;
  if (j->socket < 0 || (file >= 0 && j->file < 0)) {
    char msg[128];
    snprintf(msg, sizeof msg, "could not duplicate a descriptor: %s", strerror(errno));
    if (j->socket >= 0) close(j->socket);
    if (j->file >= 0) close(j->file);
    free(j);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  return j;
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
  Job *j = new_job(env, socket_fd, file_fd, offset, length, timeout_ms);
  return j ? start_job(env, j, argv[5]) : NULL;
}

static napi_value recv_into(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 6) return fail(env, "recvInto(socketFd, buffer, offset, length, timeoutMs, callback)");
  int32_t socket_fd, timeout_ms;
  int64_t offset, length;
  void *data = NULL;
  size_t size = 0;
  bool is_buffer = false;
  napi_valuetype t;
  if (napi_get_value_int32(env, argv[0], &socket_fd) != napi_ok || socket_fd < 0) return fail(env, "socketFd must be a descriptor");
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok)
    return fail(env, "buffer must be a Buffer");
  if (napi_get_value_int64(env, argv[2], &offset) != napi_ok || offset < 0) return fail(env, "offset must be a number >= 0");
  if (napi_get_value_int64(env, argv[3], &length) != napi_ok || length <= 0 || (uint64_t)(offset + length) > size)
    return fail(env, "length must be > 0 and fit the buffer from offset");
  if (napi_get_value_int32(env, argv[4], &timeout_ms) != napi_ok || timeout_ms <= 0) return fail(env, "timeoutMs must be a number > 0");
  napi_typeof(env, argv[5], &t);
  if (t != napi_function) return fail(env, "callback must be a function");
  Job *j = new_job(env, socket_fd, -1, offset, length, timeout_ms);
  if (!j) return NULL;
  j->into = (uint8_t *)data + offset;
  napi_create_reference(env, argv[1], 1, &j->buffer);
  return start_job(env, j, argv[5]);
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

static void finalize_env(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Env *e = data;
  napi_release_threadsafe_function(e->done, napi_tsfn_abort);
  free(e);
}

NAPI_MODULE_INIT() {
  napi_value fn, name;
  Env *e = calloc(1, sizeof *e);
  napi_create_string_utf8(env, "d7y native", NAPI_AUTO_LENGTH, &name);
  if (!e || napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, e, call_js, &e->done) != napi_ok) {
    free(e);
    napi_throw_error(env, NULL, "d7y native: could not set the callback queue up");
    return NULL;
  }
  napi_unref_threadsafe_function(env, e->done);
  napi_set_instance_data(env, e, finalize_env, NULL);
  napi_create_function(env, "sendFile", NAPI_AUTO_LENGTH, send_file, NULL, &fn);
  napi_set_named_property(env, exports, "sendFile", fn);
  napi_create_function(env, "recvInto", NAPI_AUTO_LENGTH, recv_into, NULL, &fn);
  napi_set_named_property(env, exports, "recvInto", fn);
  napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, cancel, NULL, &fn);
  napi_set_named_property(env, exports, "cancel", fn);
  return exports;
}
