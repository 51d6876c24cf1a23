/* thread.c - thread names and scheduling classes behind thread.h. */
#include "thread.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>

void wr_thread_name(const char *name)
{
    char n[16];
    snprintf(n, sizeof n, "%s", name);
    pthread_setname_np(pthread_self(), n);
}

void wr_thread_background(const char *name)
{
    wr_thread_name(name);
    struct sched_param sp = {.sched_priority = 0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
}
