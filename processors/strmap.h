/* strmap.h: an open-addressing hash map from strings to pointers, used by
 * the in-process store and caches. Keys are copied; values are borrowed
 * (the caller frees them, e.g. with sq_strmap_each before sq_strmap_fini). */
#ifndef SQ_STRMAP_H
#define SQ_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct sq_strmap_slot {
    char *key;      /* NULL: empty; SQ_STRMAP_TOMB: deleted */
    uint64_t hash;
    void *value;
};

struct sq_strmap {
    struct sq_strmap_slot *slots;
    size_t cap, n, used;  /* used counts tombstones too */
};

void sq_strmap_init(struct sq_strmap *m);
void sq_strmap_fini(struct sq_strmap *m);
uint64_t sq_strhash(const char *s, size_t len);
/* The value or NULL. */
void *sq_strmap_get(const struct sq_strmap *m, const char *key);
/* Sets key → value; returns the previous value (NULL when new). */
void *sq_strmap_put(struct sq_strmap *m, const char *key, void *value);
/* The value slot of key, added with a NULL value when key is absent, so a
 * read-modify-write costs one lookup. Valid until the next put, ref or
 * del. */
void **sq_strmap_ref(struct sq_strmap *m, const char *key);
/* Removes key; returns its value (NULL when absent). */
void *sq_strmap_del(struct sq_strmap *m, const char *key);
/* Calls fn for every entry, in no particular order. */
void sq_strmap_each(struct sq_strmap *m, void (*fn)(const char *key, void *value, void *arg),
                    void *arg);

#endif
