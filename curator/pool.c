/* pool.c - the curator's task pool (cur_int.h): one FIFO served by its own helper thread
 * or by cur_run's workers, and jobs whose end a day waits for while it runs other tasks. */
#include "cur_int.h"

#include "common/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A FIFO of tasks: stage A of a day's next hour and the Parquet writer's page compressions
 * (through pq_exec). Its threads are either its own (cur_day_curate alone: one helper) or
 * cur_run's workers, which run queued tasks between days and whenever they wait. Whoever
 * waits (a day's thread at an hour's end, a writer at a row group's flush) runs queued tasks
 * itself meanwhile, so every thread stays busy whichever stage is the longer. */
struct cur_task {
    void (*fn)(void *);
    void *job;
    struct cur_task *next;
};

static struct cur_task *pool_pop(cur_pool *pl)
{
    struct cur_task *t = pl->head;
    if (t) {
        pl->head = t->next;
        if (!pl->head) {
            pl->tail = NULL;
        }
    }
    return t;
}

/* Runs queued tasks until stop is set and the queue is empty (pl->mu held on entry/exit). */
static void pool_serve(cur_pool *pl, const int *until_zero)
{
    for (;;) {
        struct cur_task *t = pool_pop(pl);
        if (!t) {
            if (until_zero ? *until_zero == 0 : pl->stop) {
                break;
            }
            pthread_cond_wait(&pl->cv, &pl->mu);
            continue;
        }
        pthread_mutex_unlock(&pl->mu);
        t->fn(t->job);
        free(t);
        pthread_mutex_lock(&pl->mu);
    }
}

static void *pool_main(void *arg)
{
    cur_pool *pl = arg;
    pthread_mutex_lock(&pl->mu);
    pool_serve(pl, NULL);
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

static int pool_submit(void *arg, void (*fn)(void *), void *job)
{
    cur_pool *pl = arg;
    struct cur_task *t = malloc(sizeof *t);
    if (!t) {
        return WR_ENOMEM;
    }
    t->fn = fn;
    t->job = job;
    t->next = NULL;
    pthread_mutex_lock(&pl->mu);
    if (pl->tail) {
        pl->tail->next = t;
    } else {
        pl->head = t;
    }
    pl->tail = t;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    return 0;
}

static int pool_help(void *arg)
{
    cur_pool *pl = arg;
    pthread_mutex_lock(&pl->mu);
    struct cur_task *t = pool_pop(pl);
    pthread_mutex_unlock(&pl->mu);
    if (!t) {
        return 0;
    }
    t->fn(t->job);
    free(t);
    return 1;
}

int cur__pool_init(cur_pool *pl, int own_thread, int workers)
{
    memset(pl, 0, sizeof *pl);
    if (pthread_mutex_init(&pl->mu, NULL) != 0) {
        return WR_ENOMEM;
    }
    if (pthread_cond_init(&pl->cv, NULL) != 0) {
        pthread_mutex_destroy(&pl->mu);
        return WR_ENOMEM;
    }
    if (own_thread && pthread_create(&pl->th, NULL, pool_main, pl) != 0) {
        pthread_cond_destroy(&pl->cv);
        pthread_mutex_destroy(&pl->mu);
        return WR_ENOMEM;
    }
    pl->own_thread = own_thread;
    pl->busy = workers;
    pl->exec = (struct pq_exec){pl, pool_submit, pool_help};
    return 0;
}

void cur__pool_worker_done(cur_pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->busy--;
    pthread_cond_broadcast(&pl->cv);
    pool_serve(pl, &pl->busy);
    pthread_mutex_unlock(&pl->mu);
}

void cur__pool_help_all(cur_pool *pl)
{
    while (pool_help(pl)) {
    }
}

void cur__pool_fini(cur_pool *pl)
{
    pthread_mutex_lock(&pl->mu);
    pl->stop = 1;
    pthread_cond_broadcast(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
    if (pl->own_thread) {
        pthread_join(pl->th, NULL);
    }
    cur__pool_help_all(pl);
    pthread_cond_destroy(&pl->cv);
    pthread_mutex_destroy(&pl->mu);
}

/* Runs the job, then marks it done where its waiter looks. */
static void job_run(void *arg)
{
    struct cur_job *job = arg;
    job->fn(job->arg);
    pthread_mutex_lock(&job->pl->mu);
    job->done = 1;
    pthread_cond_broadcast(&job->pl->cv);
    pthread_mutex_unlock(&job->pl->mu);
}

int cur__job_start(cur_pool *pl, struct cur_job *job)
{
    job->pl = pl;
    job->done = 0;
    return pool_submit(pl, job_run, job);
}

void cur__job_wait(struct cur_job *job)
{
    cur_pool *pl = job->pl;
    pthread_mutex_lock(&pl->mu);
    while (!job->done) {
        struct cur_task *t = pool_pop(pl);
        if (t) {
            pthread_mutex_unlock(&pl->mu);
            t->fn(t->job);
            free(t);
            pthread_mutex_lock(&pl->mu);
        } else {
            pthread_cond_wait(&pl->cv, &pl->mu);
        }
    }
    pthread_mutex_unlock(&pl->mu);
}
