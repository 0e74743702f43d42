/* pool_coordinator: the dispatcher and the sink of the pool, in one poll loop
 * (see pool.h for the protocol and its guarantees).
 *
 * Batches live in a window of WINDOW slots indexed by batch id. A batch is QUEUED
 * (built, or taken back from a lost worker), SENT (to one worker, with its bytes kept
 * so it can be sent again) or DONE (its result held until every earlier batch is
 * delivered). The window bounds memory and keeps the sink's reorder buffer small. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "../core/clock.h"
#include "../core/progress.h"
#include "../core/xalloc.h"
#include "pool.h"

/* Set by SIGINT/SIGTERM: the loop stops, and the caller commits what was delivered. */
static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) { interrupted = sig; }
static struct sigaction old_int, old_term;

void pool_catch_interrupts(void) {
    struct sigaction sa = {.sa_handler = on_interrupt};
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

void pool_release_interrupts(void) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
}

enum { BATCH_FREE = 0, BATCH_QUEUED, BATCH_SENT, BATCH_DONE };
enum { MAX_ATTEMPTS = 3 };
static const double HEARTBEAT_EVERY_S = 1.0;

typedef struct {
    uint64_t id;
    int state;
    Buf task;       /* the TASK message, kept until the batch is done */
    uint64_t *tags; /* per item, for the sink */
    uint32_t count;
    int worker;     /* SENT: index into workers */
    int attempts;
    zmq_msg_t result;
} Batch;

typedef struct {
    char id[256];
    size_t id_len;
    int alive;
    int credits;
    double last_seen;
    uint32_t pid;
    int local; /* a process we started (pid is ours) */
} WorkerSlot;

typedef struct {
    const PoolConfig *cfg;
    const PoolCallbacks *cb;
    PoolStats *stats;
    void *ctx, *router;
    uint64_t session;
    Buf msg;
    Batch *window;
    size_t window_size;
    uint64_t next_batch, next_deliver; /* ids */
    int inputs_done;
    WorkerSlot *workers;
    size_t n_workers;
    pid_t *children;
    int n_children, respawns_left;
    char ipc_path[128], ipc_endpoint[160];
    double last_heartbeat;
    Progress progress;
} Coordinator;

/* ------------------------------------------------------------------ workers */

static int find_worker(Coordinator *c, const void *id, size_t n) {
    for (size_t i = 0; i < c->n_workers; i++)
        if (c->workers[i].alive && c->workers[i].id_len == n && memcmp(c->workers[i].id, id, n) == 0) return (int)i;
    return -1;
}

static int send_to(Coordinator *c, const WorkerSlot *w, const Buf *b, int flags) {
    if (zmq_send(c->router, w->id, w->id_len, ZMQ_SNDMORE | flags) < 0) return -1;
    return zmq_send(c->router, b->data, b->len, flags) < 0 ? -1 : 0;
}

/* Takes back every batch a worker holds, so others can do it. */
static void lose_worker(Coordinator *c, int wi, const char *why) {
    WorkerSlot *w = &c->workers[wi];
    if (!w->alive) return;
    w->alive = 0;
    int taken = 0;
    for (size_t i = 0; i < c->window_size; i++) {
        Batch *b = &c->window[i];
        if (b->state == BATCH_SENT && b->worker == wi) {
            b->state = BATCH_QUEUED;
            b->attempts++;
            taken++;
            c->stats->batches_resent++;
        }
    }
    c->stats->workers_lost++;
    fprintf(stderr, "%stessera: worker %.*s %s; %d batch%s handed to others\n", c->progress.tty ? "\r\n" : "",
            (int)w->id_len, w->id, why, taken, taken == 1 ? "" : "es");
}

static int add_worker(Coordinator *c, const void *id, size_t n, uint32_t pid) {
    c->workers = xrealloc(c->workers, (c->n_workers + 1) * sizeof *c->workers);
    WorkerSlot *w = &c->workers[c->n_workers];
    memset(w, 0, sizeof *w);
    w->id_len = n < sizeof w->id ? n : sizeof w->id;
    memcpy(w->id, id, w->id_len);
    w->alive = 1;
    w->pid = pid;
    for (int i = 0; i < c->n_children; i++) w->local |= c->children[i] == (pid_t)pid && pid != 0;
    w->last_seen = now_seconds();
    return (int)c->n_workers++;
}

static int spawn_local_worker(Coordinator *c, Err *err) {
    char timeout[32];
    snprintf(timeout, sizeof timeout, "%g", c->cfg->heartbeat_timeout);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return err_set(err, "cannot start a worker process (%s)", strerror(errno));
    if (pid == 0) {
        /* A local worker must not outlive its coordinator, even after kill -9. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        /* Ctrl-C reaches the whole process group: the coordinator decides, then says STOP. */
        signal(SIGINT, SIG_IGN);
        execl("/proc/self/exe", "tessera", "worker", "--connect", c->ipc_endpoint, "--local", "--heartbeat-timeout",
              timeout, (char *)NULL);
        _exit(127);
    }
    c->children = xrealloc(c->children, (size_t)(c->n_children + 1) * sizeof *c->children);
    c->children[c->n_children++] = pid;
    return 0;
}

/* Local workers that exited are lost at once, without waiting for the heartbeat. */
static int reap_children(Coordinator *c, Err *err) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < c->n_children; i++) {
            if (c->children[i] != pid) continue;
            c->children[i] = c->children[--c->n_children];
            break;
        }
        char why[64];
        if (WIFSIGNALED(status)) snprintf(why, sizeof why, "(pid %d) was killed by signal %d", (int)pid, WTERMSIG(status));
        else snprintf(why, sizeof why, "(pid %d) exited with status %d", (int)pid, WEXITSTATUS(status));
        int found = 0;
        for (size_t i = 0; i < c->n_workers; i++) {
            if (c->workers[i].alive && c->workers[i].local && c->workers[i].pid == (uint32_t)pid) {
                lose_worker(c, (int)i, why);
                found = 1;
            }
        }
        if (!found) fprintf(stderr, "%stessera: local worker %s\n", c->progress.tty ? "\r\n" : "", why);
        int work_left = !interrupted && (!c->inputs_done || c->next_deliver < c->next_batch);
        if (work_left) {
            if (c->respawns_left <= 0)
                return err_set(err, "local workers keep dying (last: pid %d %s); giving up", (int)pid, why);
            c->respawns_left--;
            if (spawn_local_worker(c, err) != 0) return -1;
        }
    }
    return 0;
}

static void expire_silent_workers(Coordinator *c, double t) {
    for (size_t i = 0; i < c->n_workers; i++) {
        WorkerSlot *w = &c->workers[i];
        if (w->alive && t - w->last_seen > c->cfg->heartbeat_timeout) {
            char why[64];
            snprintf(why, sizeof why, "went silent for %.0f s", t - w->last_seen);
            lose_worker(c, (int)i, why);
        }
    }
}

/* ------------------------------------------------------------------ messages */

static void accept_result(Coordinator *c, Reader body, zmq_msg_t *msg) {
    Err err;
    uint64_t id;
    uint32_t count;
    if (msg_parse_batch(&body, &id, &count, &err) != 0) return;
    if (id < c->next_deliver || id >= c->next_batch) return; /* already delivered: a duplicate */
    Batch *b = &c->window[id % c->window_size];
    if (b->id != id || b->state == BATCH_DONE || b->state == BATCH_FREE) return;
    if (count != b->count) {
        fprintf(stderr, "tessera: result for batch %llu has %u items, expected %u; ignored\n",
                (unsigned long long)id, count, b->count);
        return;
    }
    b->state = BATCH_DONE;
    zmq_msg_init(&b->result);
    zmq_msg_move(&b->result, msg);
}

static void handle_message(Coordinator *c, zmq_msg_t *id, zmq_msg_t *msg) {
    MsgHeader h;
    Reader body;
    Err err;
    if (msg_parse_header(zmq_msg_data(msg), zmq_msg_size(msg), &h, &body, &err) != 0) {
        fprintf(stderr, "tessera: ignoring a message from a worker: %s\n", err.msg);
        return;
    }
    int wi = find_worker(c, zmq_msg_data(id), zmq_msg_size(id));
    if (h.type == MSG_HELLO || wi < 0) {
        /* A new worker, or one we had given up on: (re)introduce the job. */
        uint32_t pid = 0;
        char host[256] = "";
        if (h.type == MSG_HELLO && msg_parse_hello(&body, &pid, host, sizeof host, &err) != 0) return;
        if (wi >= 0) lose_worker(c, wi, "said hello again");
        if (h.type != MSG_HELLO && wi < 0) {
            /* Parse the pid from the routing id "host/pid/random" so local deaths are still noticed. */
            const char *s = memchr(zmq_msg_data(id), '/', zmq_msg_size(id));
            if (s) pid = (uint32_t)atoi(s + 1);
        }
        wi = add_worker(c, zmq_msg_data(id), zmq_msg_size(id), pid);
        msg_job(&c->msg, c->session, c->cfg->job_kind, c->cfg->job_options);
        if (send_to(c, &c->workers[wi], &c->msg, 0) != 0) lose_worker(c, wi, "cannot be reached");
        if (h.type == MSG_HELLO) return;
    }
    WorkerSlot *w = &c->workers[wi];
    w->last_seen = now_seconds();
    if (h.session != c->session) return; /* from an earlier run */
    if (h.type == MSG_READY) {
        uint32_t credits;
        if (msg_parse_ready(&body, &credits, &err) == 0) w->credits = (int)credits;
    } else if (h.type == MSG_RESULT) {
        w->credits++;
        accept_result(c, body, msg);
    }
}

static void receive_all(Coordinator *c) {
    for (;;) {
        zmq_msg_t id, msg;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, c->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return;
        }
        zmq_msg_init(&msg);
        int more = zmq_msg_more(&id);
        if (more && zmq_msg_recv(&msg, c->router, 0) >= 0) {
            while (zmq_msg_more(&msg)) { /* extra frames: not ours; drain them */
                zmq_msg_t extra;
                zmq_msg_init(&extra);
                zmq_msg_recv(&extra, c->router, 0);
                zmq_msg_close(&extra);
                zmq_msg_close(&msg);
                zmq_msg_init(&msg);
            }
            handle_message(c, &id, &msg);
        }
        zmq_msg_close(&msg);
        zmq_msg_close(&id);
    }
}

/* ------------------------------------------------------------------ dispatch and sink */

static void fill_window(Coordinator *c) {
    while (!c->inputs_done && c->next_batch - c->next_deliver < c->window_size) {
        Batch *b = &c->window[c->next_batch % c->window_size];
        b->id = c->next_batch;
        b->count = 0;
        b->attempts = 0;
        msg_batch_begin(&b->task, MSG_TASK, c->session, b->id);
        size_t cap = c->cfg->batch_items;
        b->tags = xrealloc(b->tags, cap * sizeof *b->tags);
        while (b->count < cap && b->task.len < c->cfg->batch_bytes) {
            PoolInput in;
            memset(&in, 0, sizeof in);
            if (!c->cb->next(c->cb->ctx, &in)) {
                c->inputs_done = 1;
                break;
            }
            TaskItem item = {.kind = (uint8_t)in.kind, .width = (uint16_t)in.width, .height = (uint16_t)in.height,
                             .channels = (uint8_t)in.channels, .data = in.data, .n = (uint32_t)in.n};
            msg_task_item(&b->task, &item);
            b->tags[b->count++] = in.tag;
        }
        if (b->count == 0) break;
        msg_batch_finish(&b->task, b->count);
        b->state = BATCH_QUEUED;
        c->next_batch++;
    }
}

static int pick_worker(Coordinator *c) {
    int best = -1;
    for (size_t i = 0; i < c->n_workers; i++) {
        WorkerSlot *w = &c->workers[i];
        if (w->alive && w->credits > 0 && (best < 0 || w->credits > c->workers[best].credits)) best = (int)i;
    }
    return best;
}

static void dispatch(Coordinator *c) {
    for (uint64_t id = c->next_deliver; id < c->next_batch; id++) {
        Batch *b = &c->window[id % c->window_size];
        if (b->state != BATCH_QUEUED) continue;
        int wi = pick_worker(c);
        if (wi < 0) return;
        WorkerSlot *w = &c->workers[wi];
        if (send_to(c, w, &b->task, ZMQ_DONTWAIT) != 0) {
            lose_worker(c, wi, "cannot be reached");
            continue;
        }
        w->credits--;
        b->state = BATCH_SENT;
        b->worker = wi;
    }
}

static int deliver_batch(Coordinator *c, Batch *b, Err *err) {
    MsgHeader h;
    Reader body;
    uint64_t id;
    uint32_t count;
    int bad = msg_parse_header(zmq_msg_data(&b->result), zmq_msg_size(&b->result), &h, &body, err) != 0 ||
              msg_parse_batch(&body, &id, &count, err) != 0;
    for (uint32_t i = 0; i < b->count; i++) {
        ResultItem r;
        if (!bad && msg_next_result_item(&body, &r, err) != 0) bad = 1;
        if (bad) { /* a malformed result: reject what it should have held, loudly */
            char reason[256];
            snprintf(reason, sizeof reason, "worker sent a malformed result (%s)", err->msg);
            r = (ResultItem){.ok = 0, .data = (const uint8_t *)reason, .n = (uint32_t)strlen(reason)};
            if (c->cb->deliver(c->cb->ctx, b->tags[i], 0, r.data, r.n, err) != 0) return -1;
        } else if (c->cb->deliver(c->cb->ctx, b->tags[i], r.ok, r.data, r.n, err) != 0) {
            return -1;
        }
        c->stats->delivered++;
        c->stats->rejected += !r.ok;
    }
    return 0;
}

static int deliver_ready(Coordinator *c, Err *err) {
    while (c->next_deliver < c->next_batch) {
        Batch *b = &c->window[c->next_deliver % c->window_size];
        if (b->state == BATCH_QUEUED && b->attempts >= MAX_ATTEMPTS) {
            /* Three workers died holding this batch: it likely holds an input that kills them. */
            char reason[160];
            snprintf(reason, sizeof reason, "%d workers died while processing this input's batch", MAX_ATTEMPTS);
            for (uint32_t i = 0; i < b->count; i++) {
                if (c->cb->deliver(c->cb->ctx, b->tags[i], 0, (const uint8_t *)reason, strlen(reason), err) != 0)
                    return -1;
                c->stats->delivered++;
                c->stats->rejected++;
            }
        } else if (b->state == BATCH_DONE) {
            int rc = deliver_batch(c, b, err);
            zmq_msg_close(&b->result);
            if (rc != 0) return -1;
        } else {
            return 0;
        }
        b->state = BATCH_FREE;
        c->next_deliver++;
    }
    return 0;
}

static void heartbeat(Coordinator *c, double t) {
    if (t - c->last_heartbeat < HEARTBEAT_EVERY_S) return;
    c->last_heartbeat = t;
    msg_begin(&c->msg, MSG_HEARTBEAT, c->session);
    for (size_t i = 0; i < c->n_workers; i++)
        if (c->workers[i].alive) send_to(c, &c->workers[i], &c->msg, ZMQ_DONTWAIT);
}

/* ------------------------------------------------------------------ set-up and the loop */

void pool_config_defaults(PoolConfig *c) {
    *c = (PoolConfig){.job_kind = "ingest", .job_options = "", .local_workers = 2, .heartbeat_timeout = 5.0,
                      .batch_items = 256, .batch_bytes = (size_t)1 << 20, .progress_label = "ingest"};
}

static uint64_t random_session(void) {
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t)sizeof v) v = 0;
        close(fd);
    }
    return v ? v : (uint64_t)getpid() << 32 ^ (uint64_t)(now_seconds() * 1e9);
}

static int open_router(Coordinator *c, Err *err) {
    c->ctx = zmq_ctx_new();
    c->router = zmq_socket(c->ctx, ZMQ_ROUTER);
    int one = 1, zero = 0, hwm = 10000;
    zmq_setsockopt(c->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(c->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (c->cfg->local_workers > 0) {
        snprintf(c->ipc_path, sizeof c->ipc_path, "/tmp/tessera-%d-%016llx.ipc", (int)getpid(),
                 (unsigned long long)c->session);
        snprintf(c->ipc_endpoint, sizeof c->ipc_endpoint, "ipc://%s", c->ipc_path);
        if (zmq_bind(c->router, c->ipc_endpoint) != 0)
            return err_set(err, "cannot bind %s (%s)", c->ipc_endpoint, zmq_strerror(errno));
    }
    if (c->cfg->bind && zmq_bind(c->router, c->cfg->bind) != 0)
        return err_set(err, "--bind %s: cannot bind (%s)", c->cfg->bind, zmq_strerror(errno));
    return 0;
}

static void shut_down(Coordinator *c) {
    /* A worker whose HELLO is still queued (a small job can end before a remote worker's
     * connection comes up) is taken in first, so that it gets the STOP below too rather
     * than waiting out its --idle-timeout. */
    if (c->router) receive_all(c);
    msg_begin(&c->msg, MSG_STOP, c->session);
    for (size_t i = 0; i < c->n_workers; i++)
        if (c->workers[i].alive) send_to(c, &c->workers[i], &c->msg, ZMQ_DONTWAIT);
    /* A local worker that never said HELLO did nothing and got no STOP: end it now rather
     * than wait for it (small jobs can finish before every worker has started). */
    for (int i = 0; i < c->n_children; i++) {
        int known = 0;
        for (size_t k = 0; k < c->n_workers; k++)
            known |= c->workers[k].alive && c->workers[k].local && c->workers[k].pid == (uint32_t)c->children[i];
        if (!known) kill(c->children[i], SIGKILL);
    }
    /* Give the others a moment to leave on their own, then make sure. */
    double until = now_seconds() + 3.0;
    while (c->n_children > 0 && now_seconds() < until) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int i = 0; i < c->n_children; i++)
                if (c->children[i] == pid) c->children[i] = c->children[--c->n_children];
        } else {
            usleep(10000);
        }
    }
    for (int i = 0; i < c->n_children; i++) {
        kill(c->children[i], SIGKILL);
        waitpid(c->children[i], NULL, 0);
    }
    c->n_children = 0;
    if (c->router) {
        /* The router lingers 0 (a dead peer must not hold up the end), but then a STOP still
         * queued for a remote worker would be dropped at close, and that worker would wait
         * out its --idle-timeout instead of leaving. Give the queue a bounded moment. */
        int flush_ms = 1000;
        zmq_setsockopt(c->router, ZMQ_LINGER, &flush_ms, sizeof flush_ms);
        zmq_close(c->router);
    }
    if (c->ctx) zmq_ctx_term(c->ctx);
    if (c->ipc_path[0]) unlink(c->ipc_path);
    for (size_t i = 0; i < c->window_size; i++) {
        if (c->window[i].state == BATCH_DONE) zmq_msg_close(&c->window[i].result);
        buf_free(&c->window[i].task);
        free(c->window[i].tags);
    }
    free(c->window);
    free(c->workers);
    free(c->children);
    buf_free(&c->msg);
}

int pool_run(const PoolConfig *cfg, const PoolCallbacks *cb, PoolStats *stats, Err *err) {
    Coordinator c = {.cfg = cfg, .cb = cb, .stats = stats};
    memset(stats, 0, sizeof *stats);
    c.session = random_session();
    int n_expected = cfg->local_workers > 0 ? cfg->local_workers : 1;
    c.window_size = (size_t)(4 * n_expected + 4);
    c.window = xcalloc(c.window_size, sizeof *c.window);
    c.respawns_left = 3 * cfg->local_workers;
    double start = now_seconds();
    int rc = open_router(&c, err);
    for (int i = 0; rc == 0 && i < cfg->local_workers; i++) rc = spawn_local_worker(&c, err);
    progress_start(&c.progress, cfg->progress_label, cfg->total);
    double waiting_since = now_seconds();
    while (rc == 0) {
        if (interrupted) {
            rc = err_set(err, "interrupted (%s): what was done is saved; run the same command again to continue",
                         interrupted == SIGINT ? "Ctrl-C" : "SIGTERM");
            break;
        }
        fill_window(&c);
        rc = deliver_ready(&c, err);
        if (rc != 0) break;
        if (c.inputs_done && c.next_deliver == c.next_batch) break;
        dispatch(&c);
        zmq_pollitem_t item = {c.router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) < 0 && errno != EINTR) {
            rc = err_set(err, "poll failed (%s)", zmq_strerror(errno));
            break;
        }
        receive_all(&c);
        double t = now_seconds();
        if ((rc = reap_children(&c, err)) != 0) break;
        expire_silent_workers(&c, t);
        heartbeat(&c, t);
        if ((rc = cb->tick(cb->ctx, err)) != 0) break;
        int alive = 0;
        for (size_t i = 0; i < c.n_workers; i++) alive += c.workers[i].alive;
        if (alive) waiting_since = t;
        const char *note = NULL;
        char waiting[96];
        if (!alive && t - waiting_since > 2.0) {
            snprintf(waiting, sizeof waiting, "waiting for workers%s%s", cfg->bind ? " on " : "", cfg->bind ? cfg->bind : "");
            note = waiting;
        }
        progress_update(&c.progress, stats->delivered, stats->rejected, note);
    }
    if (rc == 0) rc = deliver_ready(&c, err);
    progress_finish(&c.progress);
    stats->seconds = now_seconds() - start;
    shut_down(&c);
    return rc;
}
