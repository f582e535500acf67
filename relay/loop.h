/* An epoll event loop sized for many sockets (after redis's ae): handlers
 * live in a table indexed by fd, level-triggered, read before write with
 * the mask re-checked between the two, one periodic timer, and a
 * before_sleep hook where closed connections are reaped. */
#ifndef FERRY_RELAY_LOOP_H
#define FERRY_RELAY_LOOP_H

#define LOOP_READ 0x1
#define LOOP_WRITE 0x2

struct loop;
typedef void loop_fn(struct loop *l, int fd, void *ud, int mask);
typedef void loop_tick_fn(struct loop *l, void *ud);

/* setsize: fds from 0 to setsize-1 can be registered. NULL on failure. */
struct loop *loop_new(int setsize);
void loop_free(struct loop *l);

/* Registers or changes the handler and interest mask of fd. 0 or -1. */
int loop_set(struct loop *l, int fd, int mask, loop_fn *fn, void *ud);
/* Adds or removes interest bits without touching the handler. */
int loop_mask(struct loop *l, int fd, int add, int del);
int loop_getmask(struct loop *l, int fd);
void loop_del(struct loop *l, int fd);

/* Called every interval_ms (approximately), and before every wait. */
void loop_on_tick(struct loop *l, int interval_ms, loop_tick_fn *fn, void *ud);
void loop_on_before_sleep(struct loop *l, loop_tick_fn *fn, void *ud);

/* Runs until loop_stop(). */
void loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* Monotonic milliseconds. */
long long loop_now_ms(void);

#endif
