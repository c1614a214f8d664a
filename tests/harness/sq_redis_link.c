/* sq_redis_link.c: see sq_redis_link.h. */
#include "sq_redis_link.h"

#include <criterion/criterion.h>
#include <stdlib.h>

void sq_h_link_start(struct sq_h_link *l, const char *prefix)
{
    cr_assert_eq(sq_h_redis_start(&l->rs, NULL), 0, "redis-server did not start");
    l->url = sq_h_redis_url(&l->rs);
    struct sq_err err;
    sq_err_clear(&err);
    l->r = sq_redis_new(l->url, prefix, 2000, &err);
    cr_assert_not_null(l->r, "%s", err.msg);
    l->c = sq_h_redis_connect(&l->rs);
    cr_assert_not_null(l->c);
}

void sq_h_link_stop(struct sq_h_link *l)
{
    redisFree(l->c);
    sq_redis_free(l->r);
    free(l->url);
    sq_h_redis_fini(&l->rs);
}
