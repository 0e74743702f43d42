/* pool_worker: the worker side of the pool (see pool.h).
 *
 * One thread, one DEALER socket. The worker introduces itself, waits for a job,
 * grants WORKER_CREDITS batches of credit, and then processes batches as they come,
 * sending a heartbeat whenever it has been quiet for a second (between items of a
 * long batch too), so the coordinator can tell slow from dead. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "../core/clock.h"
#include "pool.h"

enum { WORKER_CREDITS = 2 };
static const double HEARTBEAT_EVERY_S = 1.0;
static const double HELLO_EVERY_S = 2.0;

typedef struct {
    void *socket;
    Buf out;
    double last_sent, last_heard;
    uint64_t session;
    const JobKind *job;
    void *state;
} Worker;

enum { MAX_JOB_KINDS = 16 };
static const JobKind *registered_jobs[MAX_JOB_KINDS];
static size_t n_registered_jobs;

void pool_register_job(const JobKind *job) {
    for (size_t i = 0; i < n_registered_jobs; i++)
        if (registered_jobs[i] == job) return;
    if (n_registered_jobs < MAX_JOB_KINDS) registered_jobs[n_registered_jobs++] = job;
}

const JobKind *job_kind_find(const char *name, size_t n) {
    for (size_t i = 0; i < n_registered_jobs; i++)
        if (strlen(registered_jobs[i]->name) == n && memcmp(registered_jobs[i]->name, name, n) == 0)
            return registered_jobs[i];
    return NULL;
}

static int send_buf(Worker *w, const Buf *b) {
    if (zmq_send(w->socket, b->data, b->len, 0) < 0) return -1;
    w->last_sent = now_seconds();
    return 0;
}

static void send_heartbeat_if_quiet(Worker *w) {
    if (now_seconds() - w->last_sent < HEARTBEAT_EVERY_S) return;
    Buf b = {0};
    msg_begin(&b, MSG_HEARTBEAT, w->session);
    send_buf(w, &b);
    buf_free(&b);
}

static void send_hello(Worker *w) {
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    msg_hello(&w->out, (uint32_t)getpid(), host);
    send_buf(w, &w->out);
}

static int start_job(Worker *w, const MsgHeader *h, Reader *body) {
    Err err;
    const char *kind, *options;
    uint32_t kind_n, options_n;
    if (msg_parse_job(body, &kind, &kind_n, &options, &options_n, &err) != 0) {
        fprintf(stderr, "tessera worker: %s\n", err.msg);
        return -1;
    }
    const JobKind *job = job_kind_find(kind, kind_n);
    if (!job) {
        fprintf(stderr, "tessera worker: unknown job kind '%.*s'\n", (int)kind_n, kind);
        return -1;
    }
    if (w->state) w->job->stop(w->state);
    w->state = job->start(options, options_n, &err);
    if (!w->state) {
        fprintf(stderr, "tessera worker: cannot start %s job: %s\n", job->name, err.msg);
        return -1;
    }
    w->job = job;
    w->session = h->session;
    msg_ready(&w->out, w->session, WORKER_CREDITS);
    return send_buf(w, &w->out);
}

static int run_task(Worker *w, const MsgHeader *h, Reader *body) {
    if (!w->state || h->session != w->session) return 0; /* a task from another run: ignore */
    Err err;
    uint64_t batch;
    uint32_t count;
    if (msg_parse_batch(body, &batch, &count, &err) != 0) {
        fprintf(stderr, "tessera worker: %s\n", err.msg);
        return 0;
    }
    msg_batch_begin(&w->out, MSG_RESULT, w->session, batch);
    for (uint32_t i = 0; i < count; i++) {
        TaskItem in;
        if (msg_next_task_item(body, &in, &err) != 0) {
            fprintf(stderr, "tessera worker: batch %llu: %s\n", (unsigned long long)batch, err.msg);
            return 0; /* never answered: the coordinator will resend it elsewhere */
        }
        if (in.kind == INPUT_ERROR) {
            msg_result_item(&w->out, 0, in.data, in.n);
        } else {
            /* The job appends its output to the message itself: no copy per item. */
            size_t at = w->out.len;
            msg_result_item(&w->out, 1, NULL, 0);
            if (w->job->process(w->state, &in, &w->out, &err) == 0) {
                msg_result_item_patch_length(&w->out, at);
            } else {
                w->out.len = at;
                msg_result_item(&w->out, 0, err.msg, strlen(err.msg));
            }
        }
        send_heartbeat_if_quiet(w);
    }
    msg_batch_finish(&w->out, count);
    return send_buf(w, &w->out);
}

int pool_worker_run(const WorkerOptions *o) {
    void *ctx = zmq_ctx_new();
    Worker w = {0};
    w.socket = zmq_socket(ctx, ZMQ_DEALER);
    char id[128];
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    srand((unsigned)(getpid() ^ (unsigned)(now_seconds() * 1e6)));
    snprintf(id, sizeof id, "%s/%d/%08x", host, (int)getpid(), (unsigned)rand());
    zmq_setsockopt(w.socket, ZMQ_ROUTING_ID, id, strlen(id));
    int linger = 1000;
    zmq_setsockopt(w.socket, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(w.socket, o->connect) != 0) {
        fprintf(stderr, "tessera worker: cannot connect to %s (%s)\n", o->connect, zmq_strerror(errno));
        zmq_close(w.socket);
        zmq_ctx_term(ctx);
        return 2;
    }
    double start = now_seconds(), last_hello = start;
    w.last_heard = start;
    send_hello(&w);
    int rc = 1;
    for (;;) {
        zmq_pollitem_t item = {w.socket, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, (long)(HEARTBEAT_EVERY_S * 1000));
        if (n < 0 && errno != EINTR) break;
        double t = now_seconds();
        if (n > 0) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, w.socket, ZMQ_DONTWAIT) >= 0) {
                w.last_heard = t;
                MsgHeader h;
                Reader body;
                Err err;
                if (msg_parse_header(zmq_msg_data(&msg), zmq_msg_size(&msg), &h, &body, &err) != 0) {
                    fprintf(stderr, "tessera worker: %s\n", err.msg);
                } else if (h.type == MSG_JOB) {
                    if (start_job(&w, &h, &body) != 0) {
                        zmq_msg_close(&msg);
                        rc = 1;
                        break;
                    }
                } else if (h.type == MSG_TASK) {
                    run_task(&w, &h, &body);
                } else if (h.type == MSG_STOP && h.session == w.session) {
                    zmq_msg_close(&msg);
                    rc = 0;
                    break;
                }
            }
            zmq_msg_close(&msg);
        }
        t = now_seconds();
        if (!w.state && t - last_hello > HELLO_EVERY_S) { /* the coordinator may not be up yet */
            send_hello(&w);
            last_hello = t;
        }
        if (w.state) send_heartbeat_if_quiet(&w);
        /* Silence counts only when a poll found nothing: after a long batch the messages that
         * came meanwhile are still queued, and the next poll reads them. */
        if (n == 0 && t - w.last_heard > o->heartbeat_timeout) {
            if (o->local) {
                fprintf(stderr, "tessera worker: coordinator silent for %.0f s, exiting\n", t - w.last_heard);
                break;
            }
            if (t - w.last_heard > o->idle_timeout) {
                fprintf(stderr, "tessera worker: no coordinator for %.0f s, exiting\n", t - w.last_heard);
                break;
            }
            if (w.state) { /* start over: the coordinator may come back (a re-run) */
                w.job->stop(w.state);
                w.state = NULL;
                w.session = 0;
            }
        }
    }
    if (w.state) w.job->stop(w.state);
    buf_free(&w.out);
    zmq_close(w.socket);
    zmq_ctx_term(ctx);
    return rc;
}
